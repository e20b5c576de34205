"""Circuit breakers shared by every process, in Redis, with each process's own as the fallback.

A downstream's circuit is one circuit for all API and worker processes (docs/adr/0017): after
``threshold`` failed calls in a row, counted across processes, it opens for everyone; after
``reset_after_seconds`` exactly one process gets the trial call; its success closes the circuit
for all, its failure opens it again.

The state of a circuit is one Redis hash (``failures``, ``opened_until``, ``trial_until``, times
in the Redis server's own milliseconds, so the processes' clocks never disagree), changed only by
two Lua scripts: Redis runs a script alone, so two processes can never both take the trial, nor
lose a failure between reading and writing the count.

When Redis does not answer (within ``REDIS_TIMEOUT_SECONDS``), a call is guarded by this
process's own breaker (purgatory's, as before the shared one) and the outage is logged once; Redis
is tried again after ``RETRY_REDIS_AFTER_SECONDS``, and its return is logged once too. A Redis
outage never stops a call nor delays it by more than one timeout per retry period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol

from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import ExcludeType, OpenedState
from redis import asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("adapters.http.breakers")

#: A call never waits long for a Redis that hangs: its own process's breaker guards it instead.
REDIS_TIMEOUT_SECONDS = 0.25
#: After a failure, Redis is tried again only after this long (meanwhile: the local breaker).
RETRY_REDIS_AFTER_SECONDS = 5.0
KEY_PREFIX = "orders-service:breaker:"

#: Before a call. KEYS[1] the circuit; ARGV[1] how long a trial may take (ms), ARGV[2] the key's
#: expiry (ms). ``closed``: call; ``open``: fail fast; ``trial``: call, as the one trial.
_BEFORE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_until') or '0')
if opened == 0 then return 'closed' end
if now < opened then return 'open' end
local trial = tonumber(redis.call('HGET', KEYS[1], 'trial_until') or '0')
if trial > now then return 'open' end
redis.call('HSET', KEYS[1], 'trial_until', now + tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 'trial'
"""

#: After a call. KEYS[1] the circuit; ARGV[1] ``success``, ``failure`` or ``neutral``; ARGV[2]
#: ``1`` when the call was the trial; ARGV[3] the threshold; ARGV[4] how long the circuit stays
#: open (ms); ARGV[5] the key's expiry (ms). Answers what became of the circuit.
_AFTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local outcome, trial = ARGV[1], ARGV[2] == '1'
local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_until') or '0')
local function open()
  redis.call('HSET', KEYS[1], 'opened_until', now + tonumber(ARGV[4]), 'trial_until', 0,
             'failures', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
if outcome == 'neutral' then
  if trial then redis.call('HSET', KEYS[1], 'trial_until', 0) end
  return 'unchanged'
end
if outcome == 'success' then
  if opened == 0 or trial then
    redis.call('DEL', KEYS[1])
    return 'closed'
  end
  return 'unchanged'
end
if trial then
  open()
  return 'reopened'
end
if opened ~= 0 then return 'unchanged' end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[3]) then
  open()
  return 'opened'
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 'counted'
"""


class Breakers(Protocol):
    """What an adapter asks of its breakers (purgatory's factory has this shape): a context for
    one call of ``circuit`` that raises ``OpenedState`` while the circuit is open and counts the
    call's outcome; exceptions in ``exclude`` prove the downstream answered (never a failure)."""

    async def get_breaker(
        self, circuit: str, *, exclude: ExcludeType | None = None
    ) -> AbstractAsyncContextManager[Any]: ...


class SharedBreakers:
    """Circuit breakers in Redis (module docstring), ``local`` while Redis is unreachable.
    ``trial_seconds``: how long a trial call may take before another process may try (the
    call's own timeouts, so a process that dies mid-trial does not hold the circuit open).
    Open it (``open``) and close it (``close``) on the event loop that makes the calls."""

    def __init__(
        self,
        redis_url: str,
        local: AsyncCircuitBreakerFactory,
        *,
        threshold: int,
        reset_after_seconds: float,
        trial_seconds: float,
        key_prefix: str = KEY_PREFIX,
    ) -> None:
        if threshold < 1 or reset_after_seconds <= 0 or trial_seconds <= 0:
            raise ValueError("threshold >= 1, reset_after_seconds and trial_seconds > 0")
        self._url = redis_url
        self.local = local
        self._threshold = str(threshold)
        self._open_ms = str(max(1, round(reset_after_seconds * 1000)))
        self._trial_ms = str(max(1, round(trial_seconds * 1000)))
        # A circuit nobody touched for this long forgets its count (and any open state).
        self._expire_ms = str(max(3_600_000, 10 * int(self._open_ms), 10 * int(self._trial_ms)))
        self._prefix = key_prefix
        self._redis: aioredis.Redis | None = None
        self._before: Any = None
        self._after: Any = None
        self._down_until = 0.0
        self.shared = True

    async def open(self) -> None:
        self._redis = aioredis.Redis.from_url(
            self._url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._before = self._redis.register_script(_BEFORE)
        self._after = self._redis.register_script(_AFTER)

    async def close(self) -> None:
        redis, self._redis = self._redis, None
        if redis is not None:
            await redis.aclose()

    async def get_breaker(
        self, circuit: str, *, exclude: ExcludeType | None = None
    ) -> AbstractAsyncContextManager[Any]:
        if self._redis is None or (not self.shared and time.monotonic() < self._down_until):
            return await self.local.get_breaker(circuit, exclude=exclude)
        return _SharedCall(self, circuit, exclude or [])

    async def before(self, circuit: str) -> str | None:
        """``closed``, ``open`` or ``trial``; None when Redis did not answer."""
        return await self._run(self._before, circuit, [self._trial_ms, self._expire_ms])

    async def after(self, circuit: str, outcome: str, *, trial: bool) -> str | None:
        """What became of the circuit; None when Redis did not answer."""
        args = [outcome, "1" if trial else "0", self._threshold, self._open_ms, self._expire_ms]
        state = await self._run(self._after, circuit, args)
        if state in ("opened", "reopened"):
            log.warning(
                "circuit %s %s for every process (shared breaker) for %s ms",
                circuit,
                state,
                self._open_ms,
                extra={"service": circuit, "circuit": state},
            )
        elif state == "closed" and trial:
            log.warning("circuit %s closed for every process: its trial call succeeded", circuit)
        return state

    async def _run(self, script: Any, circuit: str, args: Sequence[str]) -> str | None:
        try:
            answer = await script(keys=[self._prefix + circuit], args=list(args))
        except (RedisError, OSError) as exc:
            self._down_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
            if self.shared:
                self.shared = False
                log.warning(
                    "circuit breakers: Redis unreachable (%s); each process uses its own breaker "
                    "until it answers again",
                    exc,
                )
            return None
        if not self.shared:
            self.shared = True
            log.warning("circuit breakers: Redis answers again; circuits are shared again")
        return answer.decode() if isinstance(answer, bytes) else str(answer)


class _SharedCall:
    """One call under a shared circuit; the local breaker when Redis fails on the way in."""

    def __init__(self, owner: SharedBreakers, circuit: str, exclude: ExcludeType) -> None:
        self._owner = owner
        self._circuit = circuit
        self._exclude = exclude
        self._trial = False
        self._local: AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self) -> _SharedCall:
        verdict = await self._owner.before(self._circuit)
        if verdict is None:
            self._local = await self._owner.local.get_breaker(self._circuit, exclude=self._exclude)
            await self._local.__aenter__()
        elif verdict == "open":
            raise OpenedState(self._circuit)
        else:
            self._trial = verdict == "trial"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._local is not None:
            await self._local.__aexit__(exc_type, exc, tb)
            return
        if exc is None or self._excluded(exc):
            # Cancelled: nothing was learnt about the downstream (a trial is given back).
            outcome = "neutral" if isinstance(exc, asyncio.CancelledError) else "success"
        else:
            outcome = "failure"
        await self._owner.after(self._circuit, outcome, trial=self._trial)

    def _excluded(self, exc: BaseException) -> bool:
        """purgatory's reading of ``exclude``: a type, or (type, predicate of the exception)."""
        for entry in self._exclude:
            kind, applies = entry if isinstance(entry, tuple) else (entry, None)
            if isinstance(exc, kind):
                return applies is None or bool(applies(exc))
        return False
