"""``JobScheduler`` on a SAQ queue: one job key per order, the earliest requested time wins.

SAQ drops an enqueue whose key is already queued, scheduled *or active*. One key per order
(``advance:<order id>``) keeps an order out of two jobs at once, but plain SAQ would then lose
requests (see docs/adr/0005-saq-job-dedup.md):

- while the order's job runs: the job asking for its own re-check in 30 s or its retry after
  backoff, or a webhook landing mid-run. Such a request is kept in Redis next to the job, and
  enqueued as soon as SAQ has finished the job (the worker's ``after_process`` hook calls
  :meth:`SaqJobScheduler.after_advance`);
- for an earlier time than the job already waiting (a webhook while a re-check waits 30 s): the
  waiting job is moved earlier.

The sweeper crons remain the guarantee: a request lost here (a worker killed between a job's end
and its hook) is found again by their queries.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from saq.queue.redis import RedisQueue

from application.errors import InfrastructureUnavailable
from application.ports import Clock

log = logging.getLogger(__name__)

#: The SAQ function name of the advance job; the worker registers its task under this name.
ADVANCE_ORDER_JOB = "advance_order"
#: Version of the job payload (``{"order_id": ..., "v": 1}``): a worker refuses newer ones.
PAYLOAD_VERSION = 1

# How long a "run once more" mark outlives the job it was set on: past that the crons have long
# found the order anyway.
_AGAIN_TTL_SECONDS = 600
# An enqueue can be dropped because the key's job ended in between; try again this many times.
_ENQUEUE_ATTEMPTS = 3

# Called when SAQ dropped an enqueue because the key is taken. KEYS: the queue's incomplete zset,
# its active list, the order's "again" mark. ARGV: the job id, the wanted time (epoch seconds,
# >= 1), the mark's TTL. Returns 0 when the key is free again (enqueue once more), 1 nothing to
# do (a job is ready to run), 2 moved the waiting job earlier, 3 marked the running job to be
# followed by another run (the earliest wanted time is kept).
_NUDGE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
score = tonumber(score)
local wanted = tonumber(ARGV[2])
if score == 0 then
  if redis.call('LPOS', KEYS[2], ARGV[1]) then
    local current = redis.call('GET', KEYS[3])
    if not current or tonumber(current) > wanted then
      redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[3])
    end
    return 3
  end
  return 1
end
if score > wanted then
  redis.call('ZADD', KEYS[1], 'XX', wanted, ARGV[1])
  return 2
end
return 1
"""


def job_key(order_id: str) -> str:
    """The SAQ key of an order's advance job: one per order."""
    return f"advance:{order_id}"


@dataclass(frozen=True, slots=True)
class AdvanceJobOptions:
    """SAQ settings of every advance job.

    ``heartbeat``: a job whose worker stops touching it this long (a killed worker) is swept and
    re-run; ``timeout`` caps a run that still heartbeats; ``retries`` is SAQ's total number of
    attempts for a run that raised (the store was down, say): they re-run the same job."""

    timeout_seconds: int = 300
    heartbeat_seconds: int = 15
    retries: int = 3
    retry_delay_seconds: float = 1.0
    ttl_seconds: int = 300


class SaqJobScheduler:
    """``JobScheduler`` on a SAQ queue in Redis; ``InfrastructureUnavailable("queue", ...)`` when
    Redis cannot be reached."""

    def __init__(
        self,
        queue: RedisQueue,
        clock: Clock,
        options: AdvanceJobOptions | None = None,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._options = options or AdvanceJobOptions()
        self._nudge = queue.redis.register_script(_NUDGE)

    @property
    def queue(self) -> RedisQueue:
        return self._queue

    async def schedule_advance(self, order_id: str, *, at: datetime | None = None) -> None:
        await self._enqueue(order_id, self._epoch(at))

    async def ping(self) -> None:
        """A Redis round trip; ``InfrastructureUnavailable`` when it fails."""
        try:
            await self._queue.redis.ping()  # type: ignore[misc] # redis-py types async as a union
        except (RedisError, OSError) as exc:
            raise InfrastructureUnavailable("queue", f"redis: {exc}") from exc

    async def after_advance(self, order_id: str) -> None:
        """Once SAQ has finished (or requeued) the order's job: enqueue the earliest run asked
        for while it was active. A queue that is down is only logged here: the sweepers find
        the order."""
        try:
            wanted = await self._queue.redis.getdel(self._again_key(order_id))
            if wanted is not None:
                await self._enqueue(order_id, float(wanted))
        except (InfrastructureUnavailable, RedisError, OSError) as exc:
            log.warning("follow-up of order %s not enqueued: %s", order_id, exc)

    # --- internals ---
    def _epoch(self, at: datetime | None) -> float:
        """SAQ's ``scheduled``: 0 for now, else whole epoch seconds, never earlier than asked."""
        if at is None:
            return 0
        delay = (at - self._clock.now()).total_seconds()
        return 0 if delay <= 0 else math.ceil(time.time() + delay)

    def _again_key(self, order_id: str) -> str:
        return self._queue.namespace(f"advance-again:{order_id}")

    async def _enqueue(self, order_id: str, at: float) -> None:
        # SAQ pushes a job to the ready list only when ``scheduled`` is exactly 0: a time already
        # past is sent as 0, any other as whole seconds.
        scheduled = 0 if at <= time.time() else math.ceil(at)
        key = job_key(order_id)
        options = self._options
        try:
            for _ in range(_ENQUEUE_ATTEMPTS):
                job = await self._queue.enqueue(
                    ADVANCE_ORDER_JOB,
                    key=key,
                    scheduled=scheduled,
                    timeout=options.timeout_seconds,
                    heartbeat=options.heartbeat_seconds,
                    retries=options.retries,
                    retry_delay=options.retry_delay_seconds,
                    retry_backoff=True,
                    ttl=options.ttl_seconds,
                    # The payload: small, JSON-safe, versioned.
                    order_id=order_id,
                    v=PAYLOAD_VERSION,
                )
                if job is not None:
                    return
                outcome = await self._nudge(
                    keys=[
                        self._queue.namespace("incomplete"),
                        self._queue.namespace("active"),
                        self._again_key(order_id),
                    ],
                    args=[self._queue.job_id(key), scheduled or time.time(), _AGAIN_TTL_SECONDS],
                )
                if outcome != 0:
                    return
        except (RedisError, OSError) as exc:
            raise InfrastructureUnavailable("queue", f"{type(exc).__name__}: {exc}") from exc
        log.info("advance of order %s not enqueued: its job kept changing; sweepers will", order_id)
