"""The SAQ queue on Redis, as a client the container opens and closes.

``WorkerQueue`` is SAQ 0.26's ``RedisQueue`` with three changes for operating it (ADR
docs/adr/0010-saq-operations.md):

- its sweep never aborts a job a worker has just dequeued (SAQ's sweep aborts every job of the
  active list whose stored status is not "active", and a dequeued job stays "queued" until its
  worker writes it back a round trip later);
- its pub/sub listener backs off while Redis is down instead of logging a traceback per retry;
- while Redis is down, its dequeue, sweep, schedule and worker-info calls say so once
  (:class:`RedisHealth`), not once per call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError
from saq.job import Job, Status
from saq.queue.redis import ID_PREFIX, PubSubMultiplexer, RedisQueue
from saq.types import WorkerInfo
from saq.utils import now

log = logging.getLogger(__name__)

#: The queue the API, the CLI and the worker share unless told otherwise.
DEFAULT_QUEUE_NAME = "orders"

# A Redis that does not answer must fail a request quickly (the caller answers 503 or the sweepers
# catch up), not hang it. No read timeout: the worker's dequeue is a blocking read.
_CONNECT_TIMEOUT_SECONDS = 3.0

#: How long a worker's dequeue waits before trying a Redis that failed again.
_DEQUEUE_BACKOFF_SECONDS = 1.0
#: The pub/sub listener's waits between attempts on a Redis that is down: doubling up to a cap.
_LISTEN_BACKOFF_FIRST_SECONDS = 0.1
_LISTEN_BACKOFF_MAX_SECONDS = 2.0
#: How long a dequeued job may stay "queued" before the sweep takes its worker for dead, for a job
#: without a heartbeat (a job with one gets its heartbeat: the same patience as for a running job).
DEFAULT_DEQUEUE_GRACE_SECONDS = 60.0
# The sweep's notes on dequeued jobs still "queued" outlive a sweep that stopped by this much.
_LIMBO_NOTES_TTL_SECONDS = 3600

# SAQ's own sweep script (saq/queue/redis.py, 0.26): under the sweep lock, every job id of the
# active list with its stored job. KEYS: the sweep lock, the active list. ARGV: the lock's TTL.
_ACTIVE_JOBS = """
local id_jobs = {}
if redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SETEX', KEYS[1], ARGV[1], 1)
    for i, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
        id_jobs[i] = {v, redis.call('GET', v)}
    end
end
return id_jobs
"""


class RedisHealth:
    """Whether one queue's Redis answers, logged once per change (down, up again), not per failed
    call: while Redis is away every loop of a worker fails every second or faster."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down_since: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, where: str, exc: BaseException) -> None:
        self.failures += 1
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning(
                "queue %s: redis unreachable (%s: %s: %s); retrying quietly until it answers",
                self.name,
                where,
                type(exc).__name__,
                exc,
            )

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning(
                "queue %s: redis reachable again after %.1f s (%d failed calls meanwhile)",
                self.name,
                time.monotonic() - self.down_since,
                self.failures,
            )
            self.down_since = None
            self.failures = 0


class QuietPubSubMultiplexer(PubSubMultiplexer):
    """SAQ's pub/sub listener loop (job status updates, used while waiting for a job to end), with
    a growing wait between attempts while Redis is down. SAQ's own loop retries at once and logs a
    traceback each time: thousands of lines a second. redis-py reconnects and re-subscribes on the
    next read once Redis is back."""

    def __init__(self, pubsub: Any, prefix: str, health: RedisHealth) -> None:
        super().__init__(pubsub, prefix)
        self.health = health

    async def _start(self) -> None:
        subscribed = False
        delay = 0.0
        while True:
            try:
                if not subscribed:
                    await self.pubsub.psubscribe(f"{self.prefix}*")
                    subscribed = True
                message = await self.pubsub.get_message(timeout=None)
                self.health.ok()
                delay = 0.0
                if message and message["type"] == "pmessage":
                    message["channel"] = message["channel"].decode("utf-8")
                    self.publish(message["channel"], message)
            except asyncio.CancelledError:
                return
            except (RedisError, OSError) as exc:
                self.health.failed("listener", exc)
                delay = min(
                    max(2 * delay, _LISTEN_BACKOFF_FIRST_SECONDS), _LISTEN_BACKOFF_MAX_SECONDS
                )
                await asyncio.sleep(delay)
            except Exception:
                log.exception("queue %s: failed to consume a job update", self.health.name)
                await asyncio.sleep(_LISTEN_BACKOFF_MAX_SECONDS)

    async def _close(self) -> None:
        try:
            await super()._close()
        except (RedisError, OSError) as exc:
            self.health.failed("listener close", exc)


class WorkerQueue(RedisQueue):
    """SAQ's Redis queue, operated safely (see the module's docstring)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        name: str = DEFAULT_QUEUE_NAME,
        *,
        dequeue_grace_seconds: float = DEFAULT_DEQUEUE_GRACE_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(redis, name=name, **kwargs)
        self.health = RedisHealth(self.name)
        self.dequeue_grace_seconds = dequeue_grace_seconds
        self._pubsub = QuietPubSubMultiplexer(
            redis.pubsub(), prefix=f"{ID_PREFIX}{self.name}", health=self.health
        )
        self._active_jobs = redis.register_script(_ACTIVE_JOBS)
        #: Per job id still "queued" in the active list: "<fingerprint> <first seen, epoch ms>".
        self.limbo_key = self.namespace("sweep-limbo")

    async def dequeue(
        self,
        timeout: float = 0.0,  # noqa: ASYNC109 - SAQ's signature, overridden
        poll_interval: float = 0.0,
    ) -> Job | None:
        """SAQ's dequeue, except that from a Redis that is down it waits a moment and comes back
        empty: SAQ's worker swallows the error and would ask again at once, in a loop that burns
        a core for as long as Redis is away."""
        try:
            job = await super().dequeue(timeout, poll_interval)
        except (RedisError, OSError) as exc:
            self.health.failed("dequeue", exc)
            await asyncio.sleep(_DEQUEUE_BACKOFF_SECONDS)
            return None
        self.health.ok()
        return job

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        """SAQ's sweep (requeue or abort the jobs of the active list that no live worker holds),
        except for a job still "queued" there: that is a job a worker has just dequeued and not
        yet marked active, and it is swept only once it has stayed so, unchanged, longer than its
        grace (its heartbeat, else ``dequeue_grace_seconds``): its worker died in between."""
        try:
            swept = await self._sweep_active(lock, abort)
        except (RedisError, OSError) as exc:
            self.health.failed("sweep", exc)
            return []
        self.health.ok()
        return swept

    async def schedule(self, lock: int = 1) -> list[str]:
        try:
            scheduled = await super().schedule(lock)
        except (RedisError, OSError) as exc:
            self.health.failed("schedule", exc)
            return []
        self.health.ok()
        return scheduled

    async def write_worker_info(self, worker_id: str, info: WorkerInfo, ttl: int) -> None:
        try:
            await super().write_worker_info(worker_id, info, ttl)
        except (RedisError, OSError) as exc:
            self.health.failed("worker info", exc)
            return
        self.health.ok()

    # --- internals ---
    def _grace_ms(self, job: Job) -> float:
        return 1000 * (job.heartbeat or self.dequeue_grace_seconds)

    async def _sweep_active(self, lock: int, abort: float) -> list[str]:
        id_jobs = await self._active_jobs(keys=[self._sweep, self._active], args=[lock])
        if not id_jobs:
            return []  # another worker holds the lock, or nothing is active
        notes: dict[bytes, bytes] = await self.redis.hgetall(self.limbo_key)  # type: ignore[misc]
        current = now()
        in_limbo: dict[bytes, str] = {}
        swept: list[bytes] = []
        for job_id, job_bytes in id_jobs:
            job = self.deserialize(job_bytes)
            if job is None:
                swept.append(job_id)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lrem(self._active, 0, job_id)
                    pipe.zrem(self._incomplete, job_id)
                    await pipe.execute()
                log.info("Sweeping missing job %s", job_id)
                continue
            if job.status == Status.QUEUED:
                # Dequeued, not yet marked active by its worker: the same dequeue as long as the
                # stored job is unchanged (a retry or a new job under the key changes these).
                fingerprint = f"{job.queued}:{job.attempts}:{job.touched}"
                seen, _, since = notes.get(job_id, b"").decode().partition(" ")
                first_seen = int(since) if seen == fingerprint and since.isdigit() else current
                in_limbo[job_id] = f"{fingerprint} {first_seen}"
                if current - first_seen <= self._grace_ms(job):
                    continue
                del in_limbo[job_id]
            elif job.status == Status.ACTIVE and not job.stuck:
                continue
            swept.append(job_id)
            await self._sweep_job(job, abort)
        await self._keep_limbo_notes(notes, in_limbo)
        return [job_id.decode("utf-8") for job_id in swept]

    async def _sweep_job(self, job: Job, abort: float) -> None:
        """What SAQ does to a job it sweeps: abort it, wait a moment for a worker to confirm,
        then retry it if it has attempts left, else finish it as aborted."""
        log.info("Sweeping job %s", job.info(log.isEnabledFor(logging.DEBUG)))
        await self.abort(job, error=self.swept_error_message)
        try:
            await job.refresh(abort)
        except TimeoutError:
            log.info("Could not abort job %s", job.id)
        if job.retryable:
            await self.retry(job, error=self.swept_error_message)
        else:
            await self.finish(job, Status.ABORTED, error=self.swept_error_message)

    async def _keep_limbo_notes(
        self, notes: dict[bytes, bytes], in_limbo: dict[bytes, str]
    ) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            gone = [job_id for job_id in notes if job_id not in in_limbo]
            if gone:
                pipe.hdel(self.limbo_key, *(job_id.decode() for job_id in gone))
            if in_limbo:
                pipe.hset(self.limbo_key, mapping=in_limbo)
                pipe.expire(self.limbo_key, _LIMBO_NOTES_TTL_SECONDS)
            if gone or in_limbo:
                await pipe.execute()


def make_queue(
    redis_url: str,
    name: str = DEFAULT_QUEUE_NAME,
    *,
    dequeue_grace_seconds: float = DEFAULT_DEQUEUE_GRACE_SECONDS,
) -> WorkerQueue:
    """A SAQ queue on ``redis_url``; nothing is connected until the first command."""
    redis = aioredis.from_url(redis_url, socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS)
    return WorkerQueue(redis, name=name, dequeue_grace_seconds=dequeue_grace_seconds)


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
