"""SaqJobScheduler against a real Redis: the job it writes, one job per order, the earliest
time winning, follow-ups of a running job, and a Redis that is not there."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from saq.job import Status
from saq.queue.redis import RedisQueue

from adapters.clock import SystemClock
from adapters.saq import ADVANCE_ORDER_JOB, SaqJobScheduler, close_queue, job_key
from adapters.saq import make_queue as make_saq_queue
from application.errors import InfrastructureUnavailable


def in_seconds(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def score(queue: RedisQueue, order_id: str) -> float | None:
    """When SAQ will run the order's job (0: ready now), or None if there is none."""
    value = await queue.redis.zscore(queue.namespace("incomplete"), queue.job_id(job_key(order_id)))
    return None if value is None else float(value)


async def test_the_job_carries_a_small_versioned_payload(
    scheduler: SaqJobScheduler, queue: RedisQueue
) -> None:
    await scheduler.schedule_advance("order-1")

    job = await queue.job(job_key("order-1"))
    assert job is not None
    assert job.function == ADVANCE_ORDER_JOB
    assert job.kwargs == {"order_id": "order-1", "v": 1}
    assert job.status is Status.QUEUED
    assert job.heartbeat > 0
    assert job.retries > 1


async def test_one_job_per_order_however_often_it_is_asked(
    scheduler: SaqJobScheduler, queue: RedisQueue
) -> None:
    for _ in range(5):
        await scheduler.schedule_advance("order-1")
    await scheduler.schedule_advance("order-2")
    await scheduler.schedule_advance("order-1", at=in_seconds(60))

    assert await queue.count("queued") == 2
    assert await queue.count("incomplete") == 2


async def test_an_earlier_request_moves_the_waiting_job_earlier_never_later(
    scheduler: SaqJobScheduler, queue: RedisQueue
) -> None:
    await scheduler.schedule_advance("order-1", at=in_seconds(60))
    later = await score(queue, "order-1")
    assert later is not None
    assert later >= time.time() + 59
    assert await queue.count("queued") == 0

    await scheduler.schedule_advance("order-1", at=in_seconds(120))
    assert await score(queue, "order-1") == later

    await scheduler.schedule_advance("order-1", at=in_seconds(20))
    sooner = await score(queue, "order-1")
    assert sooner is not None
    assert time.time() + 15 < sooner < later

    await scheduler.schedule_advance("order-1")  # a webhook: now
    now = await score(queue, "order-1")
    assert now is not None
    assert now <= time.time()
    await queue.schedule()  # what the worker's upkeep does every second
    assert await queue.count("queued") == 1
    assert await queue.count("incomplete") == 1


async def test_a_job_asking_for_its_own_order_gets_a_run_after_it_ends(
    scheduler: SaqJobScheduler, queue: RedisQueue
) -> None:
    await scheduler.schedule_advance("order-1")
    job = await queue.dequeue()  # a worker took it: its key is active
    assert job is not None

    # What AdvanceOrder does from inside the job: a payment re-check, then a retry (earlier).
    await scheduler.schedule_advance("order-1", at=in_seconds(30))
    await scheduler.schedule_advance("order-1", at=in_seconds(5))
    assert await queue.count("incomplete") == 1  # SAQ dropped both while the job is active

    await job.finish(Status.COMPLETE)
    await scheduler.after_advance("order-1")  # the worker's after_process hook

    waiting = await score(queue, "order-1")
    assert waiting is not None
    assert time.time() + 3 < waiting <= time.time() + 6
    assert await queue.count("queued") == 0  # due in 5 s, not now


async def test_a_webhook_landing_while_the_job_runs_gets_a_run_right_after_it(
    scheduler: SaqJobScheduler, queue: RedisQueue
) -> None:
    await scheduler.schedule_advance("order-1")
    job = await queue.dequeue()
    assert job is not None

    await scheduler.schedule_advance("order-1")
    assert await queue.count("incomplete") == 1

    await job.finish(Status.COMPLETE)
    await scheduler.after_advance("order-1")

    assert await queue.count("queued") == 1
    assert await score(queue, "order-1") == 0


async def test_nothing_is_enqueued_after_a_job_nobody_asked_more_of(
    scheduler: SaqJobScheduler, queue: RedisQueue
) -> None:
    await scheduler.schedule_advance("order-1")
    job = await queue.dequeue()
    assert job is not None
    await scheduler.schedule_advance("order-2")  # another order: enqueued at once
    await job.finish(Status.COMPLETE)
    await scheduler.after_advance("order-1")

    assert await score(queue, "order-1") is None
    assert await score(queue, "order-2") == 0


async def test_a_request_while_the_job_is_queued_not_running_adds_no_second_run(
    scheduler: SaqJobScheduler, queue: RedisQueue
) -> None:
    await scheduler.schedule_advance("order-1")
    await scheduler.schedule_advance("order-1")  # queued, not running: the queued run serves
    job = await queue.dequeue()
    assert job is not None
    await job.finish(Status.COMPLETE)
    await scheduler.after_advance("order-1")

    assert await score(queue, "order-1") is None


async def test_an_unreachable_redis_is_infrastructure_unavailable() -> None:
    queue = make_saq_queue("redis://127.0.0.1:1", "unreachable")
    await queue.connect()
    try:
        with pytest.raises(InfrastructureUnavailable) as raised:
            await SaqJobScheduler(queue, SystemClock()).schedule_advance("order-1")
    finally:
        await close_queue(queue)
    assert raised.value.component == "queue"


async def test_ping_reports_an_unreachable_redis_and_passes_a_reachable_one(
    redis_url: str,
) -> None:
    down = make_saq_queue("redis://127.0.0.1:1", "unreachable")
    up = make_saq_queue(redis_url, "ping-check")
    await down.connect()
    await up.connect()
    try:
        with pytest.raises(InfrastructureUnavailable) as raised:
            await SaqJobScheduler(down, SystemClock()).ping()
        await SaqJobScheduler(up, SystemClock()).ping()
    finally:
        await close_queue(down)
        await close_queue(up)
    assert raised.value.component == "queue"


async def test_a_workers_dequeue_from_an_unreachable_redis_comes_back_empty() -> None:
    # SAQ's worker would swallow the error and ask again at once, in a busy loop.
    queue = make_saq_queue("redis://127.0.0.1:1", "unreachable")
    await queue.connect()
    try:
        assert await queue.dequeue(timeout=1) is None
    finally:
        await close_queue(queue)
