"""What every outbound call shares: the pooled client, the retry policy, the circuit breaker,
the mapping of HTTP answers onto the application's downstream errors, and the call log.

The contract (shared/external-apis.md): timeouts, 5xx, 429 and 409 ``in_progress`` are transient;
every other 4xx is permanent for that call. A request httpx refuses to build or send (a header
value with a line break, an invalid URL) and a 400/422 answer are the request's own fault
(``RequestRefused``): permanent, and never counted against the downstream's circuit breaker.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, TypeVar

import httpx
import msgspec
import stamina
from purgatory import AsyncCircuitBreakerFactory
from purgatory.domain.model import OpenedState

from adapters.http.breakers import Breakers
from application.errors import (
    DownstreamTimeout,
    IdempotencyKeyReused,
    PermanentDownstreamError,
    RequestRefused,
    TransientDownstreamError,
)

log = logging.getLogger("adapters.http")

T = TypeVar("T")

#: How much of an unexpected body goes into the log and the error's reason.
BODY_LOG_LIMIT = 500


# --- errors: subclasses of the application's, so callers need not know them ---


class DownstreamInProgress(TransientDownstreamError):
    """409 ``in_progress``: the downstream is still working on this key; ask again shortly."""


class RateLimited(TransientDownstreamError):
    """429: the downstream asks us to wait ``retry_after`` seconds (None: it did not say)."""

    def __init__(self, service: str, reason: str, retry_after: float | None) -> None:
        super().__init__(service, reason)
        self.retry_after = retry_after


class MalformedAnswer(TransientDownstreamError):
    """A 2xx whose body does not match the contract. Not retried on the spot: a vendor that
    changed its format will not change it back within a second; the worker's backoff decides."""


class CircuitOpen(TransientDownstreamError):
    """The breaker of this downstream is open: the call was not made."""


class PoolExhausted(TransientDownstreamError):
    """No connection of our own pool freed up in time. Our limit, not the downstream's fault:
    it does not count against the downstream's breaker."""


# --- settings objects ---


@dataclass(frozen=True, slots=True)
class RetryPolicy:
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


class PoolShards(httpx.AsyncBaseTransport):
    """One client's connections, spread over several small httpcore pools.

    Why: httpcore 1.0's pool rescans every connection for each idle one whenever a request starts
    or ends (``_assign_requests_to_connections``), work quadratic in its size. One pool of 200
    busy connections spends tens of milliseconds of CPU per call and tops out at a few dozen calls
    per second (bench/bench_http_adapters.py). Pools of ``connections_per_shard`` keep each scan
    short. A request goes to the shard with the fewest requests in flight, so it waits for a
    connection only when every shard is full, as with one pool of ``max_connections``.
    """

    def __init__(self, *, max_connections: int, connections_per_shard: int = 8) -> None:
        if max_connections < 1 or connections_per_shard < 1:
            raise ValueError("max_connections and connections_per_shard must be at least 1")
        sizes = [connections_per_shard] * (max_connections // connections_per_shard)
        if max_connections % connections_per_shard:
            sizes.append(max_connections % connections_per_shard)
        # One TLS context for all shards: building one costs ~20 ms (it loads the CA bundle).
        tls = httpx.create_ssl_context(trust_env=False)
        self._shards = [
            httpx.AsyncHTTPTransport(
                verify=tls,
                trust_env=False,
                limits=httpx.Limits(
                    max_connections=size, max_keepalive_connections=size, keepalive_expiry=30.0
                ),
            )
            for size in sizes
        ]
        self.in_flight = [0] * len(sizes)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self.in_flight.__getitem__)
        self.in_flight[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self.in_flight[index] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)  # an async transport's answer
        response.stream = _ReleasingStream(response.stream, self, index)
        return response

    def release(self, index: int) -> None:
        self.in_flight[index] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """The answer's body; closing it (httpx always does) frees its place in the shard."""

    def __init__(self, inner: httpx.AsyncByteStream, owner: PoolShards, index: int) -> None:
        self._inner = inner
        self._owner = owner
        self._index: int | None = index

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._index is not None:
                self._owner.release(self._index)
                self._index = None


def build_client(
    base_url: str,
    api_key: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_connections: int,
    pool_timeout: float | None = None,
    connections_per_shard: int = 8,
    api_key_header: str | None = None,
) -> httpx.AsyncClient:
    """One pooled client per downstream base URL, sending ``Authorization: Bearer <api_key>``
    (or, with ``api_key_header``, the bare key in that header: NOWPayments' ``x-api-key``).

    ``max_connections`` bounds the connections open at once (all may stay alive between calls),
    spread over pools of ``connections_per_shard`` (see :class:`PoolShards`); a call waiting
    longer than ``pool_timeout`` (default: ``connect_timeout``) for a free connection fails as
    transient. Writes share the read timeout. Redirects are not followed: the contract has none,
    so a 3xx is an unexpected answer.
    """
    timeout = httpx.Timeout(
        connect=connect_timeout,
        read=read_timeout,
        write=read_timeout,
        pool=connect_timeout if pool_timeout is None else pool_timeout,
    )
    return httpx.AsyncClient(
        base_url=base_url,
        headers={
            **(
                {"Authorization": f"Bearer {api_key}"}
                if api_key_header is None
                else {api_key_header: api_key}
            ),
            "Accept": "application/json",
            "User-Agent": "orders-service",
        },
        timeout=timeout,
        transport=PoolShards(
            max_connections=max_connections, connections_per_shard=connections_per_shard
        ),
        follow_redirects=False,
        # The downstreams are configured by URL; proxies from the environment would bypass
        # the shards and are not part of this service's setup.
        trust_env=False,
    )


async def open_client(
    base_url: str,
    api_key: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_connections: int,
    pool_timeout: float | None = None,
    connections_per_shard: int = 8,
    api_key_header: str | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """:func:`build_client` as an async-generator Resource: closed when the container shuts down."""
    client = build_client(
        base_url,
        api_key,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_connections=max_connections,
        pool_timeout=pool_timeout,
        connections_per_shard=connections_per_shard,
        api_key_header=api_key_header,
    )
    try:
        yield client
    finally:
        await client.aclose()


def build_breakers(
    *, threshold: int = 5, reset_after_seconds: float = 30.0
) -> AsyncCircuitBreakerFactory:
    """In-process circuit breakers: after ``threshold`` failed attempts in a row a downstream's
    circuit opens and calls fail fast for ``reset_after_seconds``; then one trial call decides.

    One factory may serve every adapter: each downstream has its own circuit, by service name.
    """
    if threshold < 1 or reset_after_seconds <= 0:
        raise ValueError("threshold must be at least 1 and reset_after_seconds positive")
    return AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=reset_after_seconds)


# --- the call ---

#: Answers that prove the downstream is up, and requests that never reached it (or were refused
#: for what they carry): they must not open its circuit. ``RequestRefused`` is a permanent error.
_NOT_BREAKER_FAILURES: list[type[BaseException]] = [
    PermanentDownstreamError,
    DownstreamInProgress,
    PoolExhausted,
    asyncio.CancelledError,
]


class ErrorBody(msgspec.Struct):
    """The contract's error answer ``{"error": "<reason>"}``."""

    error: str


_error_decoder = msgspec.json.Decoder(ErrorBody)


def truncated(content: bytes, limit: int = BODY_LOG_LIMIT) -> str:
    text = content[:limit].decode("utf-8", errors="replace")
    return text + "…" if len(content) > limit else text


def vendor_reason(content: bytes) -> str:
    """The ``error`` of a contract error body, else the start of the body as text."""
    try:
        return _error_decoder.decode(content).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        return truncated(content, 200) or "no body"


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        current = datetime.now(UTC).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


#: Reads one answer of an allowed status into the port's type; raises ValueError,
#: msgspec.DecodeError or msgspec.ValidationError when the body is not the contract's.
Parser = Callable[[int, bytes], T]


class DownstreamCaller:
    """Makes one contract call: retries what is transient (stamina), fails fast while the
    downstream's circuit is open (purgatory), maps answers to the application's errors and
    logs every attempt. Never logs headers: they carry the API key."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        service: str,
        retry: RetryPolicy,
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
                return await self._attempt(
                    method, path, parse, body, headers, idempotency_key, accept, attempt.num
                )
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    def _retry_backoff(self, exc: Exception) -> bool | float:
        """stamina's hook: False stops, True backs off exponentially, a float waits that long."""
        if isinstance(exc, CircuitOpen | MalformedAnswer | PoolExhausted):
            return False
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return exc.retry_after if exc.retry_after <= self._retry.max_retry_after else False
        return isinstance(exc, TransientDownstreamError)

    async def _attempt(
        self,
        method: str,
        path: str,
        parse: Parser[T],
        body: bytes | None,
        headers: dict[str, str],
        idempotency_key: str | None,
        accept: Collection[int],
        number: int,
    ) -> T:
        started = time.perf_counter()
        status: int | str = "-"
        try:
            try:
                # Built before the breaker is asked: a request that cannot be built never
                # reached the downstream and says nothing about it.
                request = self._client.build_request(method, path, content=body, headers=headers)
            except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeError, ValueError) as exc:
                status = "unbuildable"
                raise self._refused(method, path, exc) from exc
            breaker = await self._breakers.get_breaker(
                self.service, exclude=list(_NOT_BREAKER_FAILURES)
            )
            async with breaker:
                try:
                    response = await self._client.send(request)
                except httpx.LocalProtocolError as exc:
                    # h11 refuses a header value with a line break, say, as it writes it.
                    status = "unsendable"
                    raise self._refused(method, path, exc) from exc
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
                return self._interpret(method, path, response, parse, accept, number)
        except OpenedState as exc:
            status = "circuit_open"
            raise CircuitOpen(self.service, f"circuit open, {method} {path} not sent") from exc
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            # An answer the caller asked for (a 404 "no such transfer") is no warning, and one
            # line per call is noise at INFO: DEBUG.
            expected = isinstance(status, int) and (status < 400 or status in accept)
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
                    idempotency_key or "-",
                    number,
                    extra={
                        "service": self.service,
                        "method": method,
                        "path": path,
                        "status": status,
                        "duration_ms": round(duration_ms, 1),
                        "idempotency_key": idempotency_key,
                        "attempt": number,
                    },
                )

    def _refused(self, method: str, path: str, exc: Exception) -> RequestRefused:
        # The client library's words go to the log, not to the caller.
        log.warning(
            "%s %s %s not sent: the request cannot be built (%s: %s)",
            self.service,
            method,
            path,
            type(exc).__name__,
            exc,
        )
        return RequestRefused(
            self.service, f"{method} {path}: the request cannot be sent with these values"
        )

    def _interpret(
        self,
        method: str,
        path: str,
        response: httpx.Response,
        parse: Parser[T],
        accept: Collection[int],
        number: int,
    ) -> T:
        status = response.status_code
        content = response.content
        where = f"{method} {path}"
        if 200 <= status < 300 or status in accept:
            try:
                return parse(status, content)
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
    (``None``: the defaults, and a breaker of its own; ``SharedBreakers``: one circuit for every
    process, adapters/http/breakers.py)."""

    service: ClassVar[str]

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        retry: RetryPolicy | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        self._calls = DownstreamCaller(
            client,
            service=self.service,
            retry=retry or RetryPolicy(),
            breakers=breakers or build_breakers(),
        )
