"""Worker tests: real Redis, one queue per test (the worker itself: tests/support/worker.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from saq.queue.redis import RedisQueue

from adapters.clock import SystemClock
from adapters.saq import SaqJobScheduler, close_queue, make_queue
from entrypoints.settings import Settings
from tests.support.worker import Downstream


@pytest.fixture
def queue_name() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(redis_url: str) -> Settings:
    return Settings(
        mode="dev",
        redis_url=redis_url,
        retry_backoff_base_seconds=0.5,
        retry_backoff_max_seconds=1.0,
        retry_max_attempts=3,
        pending_recheck_seconds=1.0,
        stuck_step_lease_seconds=1.0,
        worker_concurrency=4,
    )


@pytest.fixture
def downstream() -> Downstream:
    return Downstream()


@pytest.fixture
async def queue(redis_url: str, queue_name: str) -> AsyncIterator[RedisQueue]:
    """The test's queue, emptied of every key it left in Redis afterwards."""
    queue = make_queue(redis_url, queue_name)
    await queue.connect()
    try:
        yield queue
    finally:
        for pattern in (f"saq:{queue_name}:*", f"saq:job:{queue_name}:*"):
            keys = [key async for key in queue.redis.scan_iter(match=pattern)]
            if keys:
                await queue.redis.delete(*keys)
        await close_queue(queue)


@pytest.fixture
def scheduler(queue: RedisQueue) -> SaqJobScheduler:
    """What the API would use to enqueue (a webhook arrived)."""
    return SaqJobScheduler(queue, SystemClock())
