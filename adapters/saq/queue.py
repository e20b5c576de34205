"""The SAQ queue on Redis, as a client the container opens and closes."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator

from redis import asyncio as aioredis
from redis.exceptions import RedisError
from saq.job import Job
from saq.queue.redis import RedisQueue

log = logging.getLogger(__name__)

#: The queue the API, the CLI and the worker share unless told otherwise.
DEFAULT_QUEUE_NAME = "orders"

# A Redis that does not answer must fail a request quickly (the caller answers 503 or the sweepers
# catch up), not hang it. No read timeout: the worker's dequeue is a blocking read.
_CONNECT_TIMEOUT_SECONDS = 3.0


#: How long a worker's dequeue waits before trying a Redis that failed again.
_DEQUEUE_BACKOFF_SECONDS = 1.0
_WARN_EVERY_SECONDS = 30.0


class WorkerQueue(RedisQueue):
    """SAQ's Redis queue, except that a dequeue from a Redis that is down waits a moment and
    comes back empty: SAQ's worker swallows the error and would ask again at once, in a loop that
    burns a core for as long as Redis is away."""

    _last_dequeue_warning = -math.inf

    async def dequeue(
        self,
        timeout: float = 0.0,  # noqa: ASYNC109 - SAQ's signature, overridden
        poll_interval: float = 0.0,
    ) -> Job | None:
        try:
            return await super().dequeue(timeout, poll_interval)
        except (RedisError, OSError) as exc:
            # Every process loop lands here each second: say it once in a while, not each time.
            now = time.monotonic()
            if now - self._last_dequeue_warning > _WARN_EVERY_SECONDS:
                self._last_dequeue_warning = now
                log.warning("queue %s: cannot dequeue (%s); trying again", self.name, exc)
            await asyncio.sleep(_DEQUEUE_BACKOFF_SECONDS)
            return None


def make_queue(redis_url: str, name: str = DEFAULT_QUEUE_NAME) -> RedisQueue:
    """A SAQ queue on ``redis_url``; nothing is connected until the first command."""
    redis = aioredis.from_url(redis_url, socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS)
    return WorkerQueue(redis, name=name)


async def open_queue(
    redis_url: str | None, name: str = DEFAULT_QUEUE_NAME
) -> AsyncIterator[RedisQueue | None]:
    """The container's Resource: a queue while the process runs, or None without ``REDIS_URL``
    (the in-process scheduler is used then, and this opens nothing)."""
    if redis_url is None:
        yield None
        return
    queue = make_queue(redis_url, name)
    await queue.connect()
    try:
        yield queue
    finally:
        await close_queue(queue)


async def close_queue(queue: RedisQueue) -> None:
    """Disconnect, even from a Redis that went away (SAQ's own disconnect then raises)."""
    try:
        await queue.disconnect()
    except (RedisError, OSError) as exc:
        log.warning("closing the queue %s: %s", queue.name, exc)
        await queue.redis.aclose()
        await queue.redis.connection_pool.disconnect()
