"""One contract call, end to end: retries of what is transient, the downstream's circuit
breaker, the mapping of answers onto the application's errors, and one log line per attempt.

Timeouts, 5xx, 429 and 409 ``in_progress`` are transient; every other 4xx is permanent for that
call (docs/contracts.md). A request httpx refuses to build or send (a header value with a line
break, an invalid URL) and a 400/422 answer are the request's own fault (``RequestRefused``):
permanent, and never counted against the downstream's circuit breaker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

import httpx
import msgspec
import stamina
from purgatory.domain.model import OpenedState

from adapters.http.bodies import parse_retry_after, truncated, vendor_reason
from adapters.http.breakers import Breakers
from adapters.http.client import build_breakers
from adapters.http.errors import (
    CircuitOpen,
    DownstreamInProgress,
    MalformedAnswer,
    PoolExhausted,
    RateLimited,
)
from application.errors import (
    DownstreamTimeout,
    IdempotencyKeyReused,
    PermanentDownstreamError,
    RequestRefused,
    TransientDownstreamError,
)

log = logging.getLogger("adapters.http")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallRetryPolicy:
    """In-process retries of one call (the worker's own, slower backoff sits behind these).

    Backoff before retry *n* is ``min(wait_max, wait_initial * 2**(n-1) + uniform(0, wait_jitter))``
    seconds (stamina's formula). A 429's ``Retry-After`` is waited instead when it is at most
    ``max_retry_after``; a longer one ends the call at once as transient.
    """

    attempts: int = 3
    wait_initial: float = 0.2
    wait_max: float = 2.0
    wait_jitter: float = 0.2
    max_retry_after: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if min(self.wait_initial, self.wait_max, self.wait_jitter, self.max_retry_after) < 0:
            raise ValueError("waits must not be negative")


#: Answers that prove the downstream is up, and requests that never reached it (or were refused
#: for what they carry): they must not open its circuit. ``RequestRefused`` is a permanent error.
_NOT_BREAKER_FAILURES: list[type[BaseException]] = [
    PermanentDownstreamError,
    DownstreamInProgress,
    PoolExhausted,
    asyncio.CancelledError,
]


#: Reads one answer of an allowed status into the port's type; raises ValueError,
#: msgspec.DecodeError or msgspec.ValidationError when the body is not the contract's.
Parser = Callable[[int, bytes], T]


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One contract call as every attempt sends it: the same headers (so the same idempotency
    key) each time; ``parse`` reads 2xx answers and those whose status is in ``accept``."""

    method: str
    path: str
    parse: Parser[T]
    body: bytes | None
    headers: Mapping[str, str]
    idempotency_key: str | None
    accept: Collection[int]

    @property
    def where(self) -> str:
        return f"{self.method} {self.path}"


class DownstreamCaller:
    """Makes one contract call: retries what is transient (stamina), fails fast while the
    downstream's circuit is open (purgatory), maps answers to the application's errors and
    logs every attempt. Never logs headers: they carry the API key."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        service: str,
        retry: CallRetryPolicy,
        breakers: Breakers,
    ) -> None:
        self._client = client
        self.service = service
        self._retry = retry
        self._breakers = breakers

    async def call(
        self,
        method: str,
        path: str,
        parse: Parser[T],
        *,
        body: bytes | None = None,
        idempotency_key: str | None = None,
        accept: Collection[int] = (),
        attempts: int | None = None,
    ) -> T:
        """Send until an answer is final; ``parse`` reads 2xx answers and those in ``accept``.
        ``attempts`` (default: the retry policy's) caps the attempts of this call: 1 for a call
        that is not safe to repeat (a create without an idempotency key)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if idempotency_key is not None:
            # The same key on every attempt: that is what makes the retry safe.
            headers["Idempotency-Key"] = idempotency_key
        call = Call(
            method=method,
            path=path,
            parse=parse,
            body=body,
            headers=headers,
            idempotency_key=idempotency_key,
            accept=accept,
        )
        retry = self._retry
        async for attempt in stamina.retry_context(
            on=self._retry_backoff,
            attempts=retry.attempts if attempts is None else attempts,
            timeout=None,
            wait_initial=retry.wait_initial,
            wait_max=retry.wait_max,
            wait_jitter=retry.wait_jitter,
        ):
            with attempt:
                return await self._attempt(call, attempt.num)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def _retry_backoff(self, exc: Exception) -> bool | float:
        """stamina's hook: False stops, True backs off exponentially, a float waits that long."""
        if isinstance(exc, CircuitOpen | MalformedAnswer | PoolExhausted):
            return False
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self._retry.max_retry_after else False
        return isinstance(exc, TransientDownstreamError)

    async def _attempt(self, call: Call[T], number: int) -> T:
        """One attempt of ``call`` (``number`` counts from 1), logged once whatever happens."""
        method, path = call.method, call.path
        started = time.perf_counter()
        status: int | str = "-"
        try:
            try:
                # Built before the breaker is asked: a request that cannot be built never
                # reached the downstream and says nothing about it.
                request = self._client.build_request(
                    method, path, content=call.body, headers=dict(call.headers)
                )
            except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeError, ValueError) as exc:
                status = "unbuildable"
                raise self._refused(call, exc) from exc
            breaker = await self._breakers.get_breaker(
                self.service, exclude=list(_NOT_BREAKER_FAILURES)
            )
            async with breaker:
                try:
                    response = await self._client.send(request)
                except httpx.LocalProtocolError as exc:
                    # h11 refuses a header value with a line break, say, as it writes it.
                    status = "unsendable"
                    raise self._refused(call, exc) from exc
                except httpx.PoolTimeout as exc:
                    status = "pool_timeout"
                    raise PoolExhausted(
                        self.service, f"{method} {path}: no free connection in time"
                    ) from exc
                except httpx.TimeoutException as exc:
                    status = "timeout"
                    raise DownstreamTimeout(
                        self.service, f"{method} {path}: {type(exc).__name__} (attempt {number})"
                    ) from exc
                except httpx.TransportError as exc:
                    status = "transport_error"
                    raise TransientDownstreamError(
                        self.service,
                        f"{method} {path}: {type(exc).__name__}: {exc} (attempt {number})",
                    ) from exc
                except httpx.HTTPError as exc:
                    # An answer httpx could not read (a body that does not match its
                    # Content-Encoding, say): the downstream's fault, never a crash here.
                    status = "undecodable"
                    raise MalformedAnswer(
                        self.service, f"{method} {path}: {type(exc).__name__}: {exc}"
                    ) from exc
                status = response.status_code
                return self._interpret(call, response, number)
        except OpenedState as exc:
            status = "circuit_open"
            raise CircuitOpen(self.service, f"circuit open, {method} {path} not sent") from exc
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            # An answer the caller asked for (a 404 "no such transfer") is no warning, and one
            # line per call is noise at INFO: DEBUG.
            expected = isinstance(status, int) and (status < 400 or status in call.accept)
            level = logging.DEBUG if expected else logging.WARNING
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "%s %s %s -> %s in %.1f ms (idempotency key %s, attempt %d)",
                    self.service,
                    method,
                    path,
                    status,
                    duration_ms,
                    call.idempotency_key or "-",
                    number,
                    extra={
                        "service": self.service,
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": round(duration_ms, 1),
                        "idempotency_key": call.idempotency_key,
                        "attempt": number,
                    },
                )

    def _refused(self, call: Call[T], exc: Exception) -> RequestRefused:
        # The client library's words go to the log, not to the caller.
        log.warning(
            "%s %s not sent: the request cannot be built (%s: %s)",
            self.service,
            call.where,
            type(exc).__name__,
            exc,
        )
        return RequestRefused(
            self.service, f"{call.where}: the request cannot be sent with these values"
        )

    def _interpret(self, call: Call[T], response: httpx.Response, number: int) -> T:
        """The parsed answer, or the application's error for it."""
        status = response.status_code
        content = response.content
        where = call.where
        if 200 <= status < 300 or status in call.accept:
            try:
                return call.parse(status, content)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                log.warning(
                    "%s %s answered %d with a body outside the contract (%s): %s",
                    self.service,
                    where,
                    status,
                    exc,
                    truncated(content),
                )
                raise MalformedAnswer(
                    self.service, f"{where}: {status} answer outside the contract: {exc}"
                ) from exc
        reason = vendor_reason(content)
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise RateLimited(
                self.service, f"{where}: 429 {reason} (attempt {number})", retry_after
            )
        if status >= 500:
            raise TransientDownstreamError(
                self.service, f"{where}: {status} {reason} (attempt {number})"
            )
        if status == 409 and reason == "in_progress":
            raise DownstreamInProgress(self.service, f"{where}: 409 in_progress (attempt {number})")
        if status == 409 and reason == "idempotency_key_reused":
            raise IdempotencyKeyReused(self.service, f"{where}: 409 idempotency_key_reused")
        if status in (400, 422):
            raise RequestRefused(self.service, f"{where}: {status} {reason}")
        if 400 <= status < 500:
            raise PermanentDownstreamError(self.service, f"{where}: {status} {reason}")
        # 1xx/3xx: nothing in the contract answers so.
        log.warning(
            "%s %s answered an unexpected %d: %s", self.service, where, status, truncated(content)
        )
        raise MalformedAnswer(self.service, f"{where}: unexpected status {status}")


class HttpAdapter:
    """What the three adapters share: one :class:`DownstreamCaller` for the service they name in
    ``service``, on the client given (one per base URL), with its retry policy and breakers
    (``None``: the defaults, and a breaker of its own)."""

    service: ClassVar[str]

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retry: CallRetryPolicy | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self._calls = DownstreamCaller(
            client,
            service=self.service,
            retry=retry or CallRetryPolicy(),
            breakers=breakers or build_breakers(),
        )
