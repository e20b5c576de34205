"""Run the worker until SIGTERM/SIGINT, letting the jobs in flight finish."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from saq import Worker
from saq.queue.redis import RedisQueue

from adapters.saq import DEFAULT_QUEUE_NAME, WorkerQueue, close_queue
from entrypoints.container import Container
from entrypoints.settings import Settings
from entrypoints.worker.settings import CronIntervals, worker_settings
from entrypoints.worker.tasks import WorkerContext

log = logging.getLogger(__name__)

#: How long jobs in flight get to finish after SIGTERM before they are cancelled.
DEFAULT_GRACE_SECONDS = 30.0


class GracefulWorker(Worker[WorkerContext]):
    """A SAQ worker whose stop waits for the jobs in flight (up to ``grace_seconds``), not for
    the upkeep loops, which sleep up to a sweep interval between rounds.

    A job still running after the grace period is cancelled, and SAQ puts it back in the queue:
    every step it may have been in is idempotent, so the next run finishes it.

    Its upkeep loops (cron scheduling, aborts) report a Redis that is down to the queue's
    :class:`~adapters.saq.queue.RedisHealth`, which logs it once, instead of a traceback per
    loop per second."""

    def __init__(self, *args: Any, grace_seconds: float = DEFAULT_GRACE_SECONDS, **kwargs: Any):
        # SAQ's own grace applies after ours, to jobs already given theirs: one more second.
        super().__init__(*args, shutdown_grace_period_s=1, **kwargs)
        self.grace_seconds = grace_seconds

    async def schedule(self, lock: int = 1) -> None:
        try:
            await super().schedule(lock)
        except (RedisError, OSError) as exc:
            self._redis_failed("schedule", exc)

    async def abort(self, abort_threshold: float) -> None:
        try:
            await super().abort(abort_threshold)
        except (RedisError, OSError) as exc:
            self._redis_failed("abort", exc)

    def _redis_failed(self, where: str, exc: BaseException) -> None:
        if not isinstance(self.queue, WorkerQueue):
            raise exc
        self.queue.health.failed(where, exc)

    async def stop(self) -> None:
        self.event.set()  # no new jobs: each process loop ends after its current dequeue
        processing = [t for t in self.tasks if t.get_name() == "process" and not t.done()]
        if processing:
            _, late = await asyncio.wait(processing, timeout=self.grace_seconds)
            if late:
                log.warning(
                    "%d job(s) still running after %.0f s; cancelling them, they will be re-run",
                    len(late),
                    self.grace_seconds,
                )
        upkeep = [t for t in self.tasks if t.get_name() != "process"]
        for task in upkeep:
            task.cancel()
        await asyncio.gather(*upkeep, return_exceptions=True)
        await super().stop()


async def run_worker(
    settings: Settings,
    *,
    queue_name: str = DEFAULT_QUEUE_NAME,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    configure: Callable[[Container], None] | None = None,
    crons: CronIntervals | None = None,
) -> None:
    """Work until SIGTERM or SIGINT (or :meth:`GracefulWorker.stop`), then shut down cleanly."""
    worker = GracefulWorker(
        **worker_settings(settings, queue_name=queue_name, configure=configure, crons=crons),
        grace_seconds=grace_seconds,
    )
    queue = worker.queue
    assert isinstance(queue, RedisQueue)  # worker_settings builds a Redis queue
    await queue.connect()
    try:
        await worker.start()
    finally:
        await close_queue(queue)
