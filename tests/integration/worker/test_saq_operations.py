"""SAQ operated safely (docs/adr/0010-saq-operations.md), on real Redis:

- a sweep landing between a worker's dequeue and its "active" write never aborts the job (SAQ
  0.26's own sweep does, and the job runs twice), while a job whose worker died in that gap is
  still swept once its grace has passed;
- a Redis outage costs a bounded number of log lines, and the worker works again once it is back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis
from saq.job import Job, Status
from saq.queue.redis import RedisQueue
from saq.utils import now

from adapters.clock import SystemClock
from adapters.saq import SaqJobScheduler, WorkerQueue, close_queue, make_queue
from domain import OrderStatus
from entrypoints.settings import Settings
from entrypoints.worker import GracefulWorker
from entrypoints.worker.settings import TIMERS
from tests.killable import RedisServer
from tests.support.worker import FAST_SWEEPS, Downstream, eventually, running_worker


#: What SAQ's worker does right after its dequeue (saq/worker.py, Worker.process).
async def mark_active(job: Job) -> None:
    job.started = now()
    job.attempts += 1
    await job.update(status=Status.ACTIVE)


def unique(name: str) -> str:
    """A job key of this test only: SAQ's abort marks (``saq:abort:<key>``, 5 s) are not
    namespaced by queue, so a key aborted in one test would block its enqueue in the next."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def sweep_now(queue: RedisQueue) -> list[str]:
    """One sweep, whoever swept last (the sweep lock would skip a sweep within its TTL)."""
    await queue.redis.delete(queue.namespace("sweep"))
    return await queue.sweep(lock=1, abort=0.2)


async def test_a_sweep_between_dequeue_and_start_leaves_the_job_alone(queue: RedisQueue) -> None:
    assert isinstance(queue, WorkerQueue)
    key = unique("gap")
    await queue.enqueue("work", key=key, heartbeat=15, timeout=60, retries=3)
    job = await queue.dequeue(timeout=5)
    assert job is not None
    # The gap: on the active list, stored status still "queued".
    assert job.status == Status.QUEUED
    assert await queue.count("active") == 1

    assert await sweep_now(queue) == []

    stored = await queue.job(key)
    assert stored is not None
    assert stored.status == Status.QUEUED
    assert stored.error is None
    assert await queue.count("active") == 1
    await mark_active(job)
    assert await sweep_now(queue) == []
    await job.finish(Status.COMPLETE, result="done")
    finished = await queue.job(key)
    assert finished is not None
    assert (finished.status, finished.attempts) == (Status.COMPLETE, 1)


async def test_saq_own_sweep_aborts_a_job_in_that_gap(redis_url: str, queue: RedisQueue) -> None:
    """The gap itself, with SAQ's sweep (what an upgrade of SAQ that closes it would change)."""
    plain = RedisQueue.from_url(redis_url, name=queue.name)
    await plain.connect()
    try:
        key = unique("gap")
        await queue.enqueue("work", key=key, heartbeat=15, timeout=60, retries=3)
        job = await queue.dequeue(timeout=5)
        assert job is not None
        assert await sweep_now(plain) == [job.id]
        stored = await queue.job(key)
        assert stored is not None
        assert stored.error == plain.swept_error_message
        # Requeued while its worker holds it: a second worker will run it again.
        assert await queue.count("queued") == 1
    finally:
        await close_queue(plain)


@pytest.fixture
async def short_grace(
    redis_url: str, queue_name: str, queue: RedisQueue
) -> AsyncIterator[WorkerQueue]:
    """The test's queue with a dequeue grace of 0.3 s (``queue`` cleans its keys up)."""
    short = make_queue(redis_url, queue_name, dequeue_grace_seconds=0.3)
    await short.connect()
    try:
        yield short
    finally:
        await close_queue(short)


async def _dequeued_in_the_gap(queue: WorkerQueue, name: str) -> Job:
    """A job dequeued and not yet marked active, first seen by a sweep (noted, not swept)."""
    await queue.enqueue("work", key=unique(name), timeout=60, retries=3)
    job = await queue.dequeue(timeout=5)
    assert job is not None
    assert await sweep_now(queue) == []
    return job


async def test_a_job_whose_worker_died_after_dequeue_is_still_swept(
    short_grace: WorkerQueue,
) -> None:
    job = await _dequeued_in_the_gap(short_grace, "orphan")  # and the worker dies here
    await asyncio.sleep(0.5)  # past the grace, unchanged
    assert await sweep_now(short_grace) == [job.id]
    again = await short_grace.dequeue(timeout=5)
    assert again is not None
    assert again.key == job.key
    assert await short_grace.redis.hlen(short_grace.limbo_key) == 0  # type: ignore[misc]


async def test_a_new_dequeue_of_the_same_key_gets_a_new_grace(short_grace: WorkerQueue) -> None:
    job = await _dequeued_in_the_gap(short_grace, "again")
    await mark_active(job)
    await job.retry("failed")  # the run raised: requeued under the same key and id
    await asyncio.sleep(0.5)
    rerun = await short_grace.dequeue(timeout=5)
    assert rerun is not None
    assert rerun.id == job.id
    # Its note from the first dequeue is older than the grace, but it is another dequeue.
    assert await sweep_now(short_grace) == []


class SweptInTheGap(WorkerQueue):
    """A worker's queue on which another worker's sweep lands exactly between the dequeue and
    the "active" write, once."""

    sweeper: RedisQueue
    swept: list[str] | None = None

    async def dequeue(
        self,
        timeout: float = 0.0,  # noqa: ASYNC109 - SAQ's signature, overridden
        poll_interval: float = 0.0,
    ) -> Job | None:
        job = await super().dequeue(timeout, poll_interval)
        if job is not None and self.swept is None:
            self.swept = []
            self.swept.extend(await sweep_now(self.sweeper))
        return job


@pytest.mark.parametrize(("sweeper_class", "runs"), [(WorkerQueue, 1), (RedisQueue, 2)])
async def test_a_worker_runs_a_job_swept_in_the_gap(
    redis_url: str,
    queue_name: str,
    queue: RedisQueue,
    sweeper_class: type[RedisQueue],
    runs: int,
) -> None:
    """With SAQ's sweep the job is aborted mid-run and run again (two transfer calls under one
    key); with ours it runs once."""
    started: list[int] = []

    async def work(ctx: Any) -> str:
        started.append(len(started))
        await asyncio.sleep(0.3)  # in the middle of its outside call
        return "done"

    worker_queue = SweptInTheGap(aioredis.from_url(redis_url), name=queue_name)
    worker_queue.sweeper = sweeper_class.from_url(redis_url, name=queue_name)
    worker = GracefulWorker(
        worker_queue,
        [("work", work)],
        concurrency=2,
        timers=TIMERS,
        dequeue_timeout=1,
        grace_seconds=5,
    )
    await worker_queue.connect()
    await worker_queue.sweeper.connect()
    task = asyncio.create_task(worker.start())
    try:
        key = unique("transfer")
        await queue.enqueue("work", key=key, heartbeat=15, timeout=60, retries=3)
        await eventually(lambda: len(started) >= runs, within=10)

        async def settled() -> bool:
            job = await queue.job(key)
            idle = sum([await queue.count("queued"), await queue.count("active")]) == 0
            return idle and job is not None and job.status == Status.COMPLETE

        for _ in range(500):
            if await settled():
                break
            await asyncio.sleep(0.02)
        assert await settled()
        assert len(started) == runs
        assert worker_queue.swept == ([] if runs == 1 else [worker_queue.job_id(key)])
    finally:
        worker.event.set()
        await asyncio.wait_for(task, timeout=10)
        await close_queue(worker_queue.sweeper)
        await close_queue(worker_queue)


# --- a Redis outage ---


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def own_scheduler(own_redis: RedisServer, queue_name: str) -> AsyncIterator[SaqJobScheduler]:
    queue = make_queue(own_redis.url, queue_name)
    await queue.connect()
    try:
        yield SaqJobScheduler(queue, SystemClock())
    finally:
        await close_queue(queue)


class Records(logging.Handler):
    """Every log record of the process (one line each in the service's JSON logs)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_redis_outage_costs_a_few_log_lines_and_the_worker_resumes(
    own_redis: RedisServer,
    own_scheduler: SaqJobScheduler,
    queue_name: str,
    downstream: Downstream,
    settings: Settings,
) -> None:
    settings = dataclasses.replace(settings, redis_url=own_redis.url)
    lines = Records()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(lines)
    try:
        async with running_worker(settings, queue_name, downstream, crons=FAST_SWEEPS) as worker:
            assert isinstance(worker.queue, WorkerQueue)
            # Something waits on job updates, as SAQ's sweep does: the pub/sub listener runs.
            listening = asyncio.create_task(
                worker.queue.listen(["nothing"], lambda key, status: False, timeout=None)
            )
            first = await downstream.paid_order("before")
            await own_scheduler.schedule_advance(first.id)
            await downstream.wait_for(first.id, OrderStatus.COMPLETED)
            await asyncio.sleep(0.5)

            before = len(lines.records)
            own_redis.kill()
            await asyncio.sleep(4)
            outage = [lines.format(r) for r in lines.records[before:]]
            own_redis.start()

            second = await downstream.paid_order("after")
            await own_scheduler.schedule_advance(second.id)
            await downstream.wait_for(second.id, OrderStatus.COMPLETED, within=15)
            assert worker.queue.health.down is False
            listening.cancel()
            await asyncio.gather(listening, return_exceptions=True)
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
    assert len(outage) < 20, f"{len(outage)} log records in 4 s of outage:\n" + "\n".join(
        outage[:40]
    )
    messages = [r.getMessage() for r in lines.records]
    assert sum("redis unreachable" in m for m in messages) == 1
    assert sum("redis reachable again" in m for m in messages) == 1
