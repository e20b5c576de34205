"""Per-client-IP rate limits on the public and admin endpoints: Litestar's ``RateLimitConfig`` and
middleware class, with the counting replaced by a fixed window per client counted in Redis
(``REDIS_URL``), so every API process shares one budget per client: one atomic Lua script (INCR,
then PEXPIRE on the window's first request), one round trip per request. Without Redis (dev mode)
or while it does not answer, each process counts in its own memory and says so once in the log.

On the buyer's endpoints (``/api/orders``), a request with a valid buyer token counts against
its buyer (``buyer:<sub>``), wherever it comes from; any other request (a guest, an admin, a
token that does not verify) against its client address, the real one behind trusted proxies
(``TRUSTED_PROXIES``, ``entrypoints/api/client_address.py``). A token is never believed unverified:
it is checked here (cached per token, ``adapters/http/buyer_tokens.py``) and the outcome kept for
the route's ``authenticate`` (``entrypoints/api/buyer_identity.py``), so it is checked once.

``OPTIONS`` is never counted (a browser's CORS preflight precedes its real request). The webhook
(the gateway redelivers whatever we refuse, so a limit there only delays payments),
the probes and ``/metrics`` are excluded. A refused request gets a 429 problem with
``Retry-After`` (seconds until the window resets) next to Litestar's ``RateLimit-*`` headers.
Answers that are not refused carry no ``RateLimit-*`` headers (``set_rate_limit_headers`` is off):
they cost every answer something (docs/benchmarks.md) for a budget the frontend never reads; the
429 tells a client what it needs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    RateLimitConfig,
    RateLimitMiddleware,
    get_remote_address,
)
from litestar.types import ASGIApp, Receive, Scope, Send
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from adapters.http.buyer_tokens import BuyerAuthenticator, IdentityUnavailable, InvalidToken
from entrypoints.api.buyer_identity import buyer_of
from entrypoints.api.client_address import IPNetwork, client_address, networks_of
from entrypoints.api.dependencies import objects_of
from entrypoints.api.problems import problem

log = logging.getLogger(__name__)

#: Paths never limited (regular expressions matched at the start of the path).
UNLIMITED_PATHS = (r"^/api/webhooks/", r"^/health$", r"^/ready$", r"^/metrics$")


_STATE_KEY = "rate_limit_windows"

#: Count one request of KEYS[1]: INCR, and on a key without expiry (the window's first request)
#: PEXPIRE it for the window (ARGV[1] ms). Answers {count, ms until the window resets}. Atomic:
#: Redis runs a script alone, so processes counting the same client at once never lose a count.
_COUNT_SCRIPT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
KEY_PREFIX = "orders-service:rate:"
#: A buyer's bucket: this and the token's ``sub`` (an address's bucket is the address).
BUYER_KEY = "buyer:"
#: A request never waits long for a Redis that hangs: it is counted locally instead.
REDIS_TIMEOUT_SECONDS = 0.25
#: After a failure, Redis is tried again only after this long (meanwhile: local counting).
RETRY_REDIS_AFTER_SECONDS = 5.0


class SharedCounter:
    """The per-client windows of every API process, in Redis. ``count`` answers None when Redis
    cannot be used (the caller counts locally); the outage and the recovery are each logged once.
    Opened and closed with the app (its lifespan), on the app's event loop."""

    def __init__(self, redis_url: str, window_seconds: int) -> None:
        self._url = redis_url
        self._window_ms = str(window_seconds * 1000)
        self._redis: aioredis.Redis | None = None
        self._script: Any = None
        self._down_until = 0.0
        self._down = False

    async def open(self) -> None:
        self._redis = aioredis.Redis.from_url(
            self._url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self._script = self._redis.register_script(_COUNT_SCRIPT)

    async def close(self) -> None:
        redis, self._redis, self._script = self._redis, None, None
        if redis is not None:
            await redis.aclose()

    async def count(self, client: str) -> tuple[int, int] | None:
        """(requests of ``client`` in its window, this one included; ms until it resets)."""
        script = self._script
        if script is None or (self._down and time.monotonic() < self._down_until):
            return None
        try:
            count, reset_ms = await script(keys=[KEY_PREFIX + client], args=[self._window_ms])
        except (RedisError, OSError) as exc:
            self._down_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
            if not self._down:
                self._down = True
                log.warning(
                    "rate limits: Redis unreachable (%s); each API process counts on its own "
                    "until it answers again",
                    exc,
                )
            return None
        if self._down:
            self._down = False
            log.warning("rate limits: Redis answers again; counting is shared across processes")
        return int(count), int(reset_ms)


@dataclass(slots=True)
class _Windows:
    """Every client's fixed window of one app: ``key -> (count, reset)``, the Redis counter
    when there is one, the trusted proxies, and the paths whose buyers have buckets of their own."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    next_prune: int = 0
    shared: SharedCounter | None = None
    trusted: Sequence[IPNetwork] = ()
    buyer_paths: tuple[str, ...] = ()
    authenticator: BuyerAuthenticator | None = None


def install_rate_limits(
    state: Any,
    redis_url: str | None,
    trusted_proxies: Sequence[str],
    buyer_paths: Sequence[str] = (),
) -> SharedCounter | None:
    """Give the app (its ``state``) the windows the middleware counts in: in Redis when
    ``redis_url`` is set (the returned counter, to open and close with the app), else in memory.
    Under ``buyer_paths`` (and their sub-paths), a valid buyer token's buyer has its own bucket."""
    shared = SharedCounter(redis_url, DURATION_VALUES["minute"]) if redis_url else None
    state[_STATE_KEY] = _Windows(
        shared=shared, trusted=networks_of(trusted_proxies), buyer_paths=tuple(buyer_paths)
    )
    return shared


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def _authorization(scope: Scope) -> str | None:
    """The request's first ``Authorization`` header, as Litestar's ``request.headers`` reads it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value.decode("latin-1")
    return None


class ProblemRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's middleware and config (client identifier, exclusions, header names), counting
    a fixed window per client in this process's memory.

    Litestar's own keeps a timestamp per request in its store and re-encodes the whole list as
    JSON under a lock on every request: O(limit) work per request and ~50 us in the hot path.
    Here a window is ``(count, reset)`` in a dict; reading and writing it involves no ``await``,
    so the event loop alone keeps it consistent. Counts are per API process (as Litestar's
    default in-memory store was). Litestar raises its 429 outside the route's exception handling,
    so the answer is written here, as a problem with ``Retry-After``."""

    def __init__(self, app: ASGIApp, config: RateLimitConfig) -> None:
        if config.set_rate_limit_headers:
            # Not a silent no-op: the headers are written on the 429 only (module docstring).
            raise ValueError("set_rate_limit_headers: the RateLimit-* headers go on the 429 only")
        super().__init__(app, config)
        self._window_seconds = DURATION_VALUES[self.unit]
        self._default_identifier = config.identifier_for_request is get_remote_address
        self._windows: _Windows | None = None

    def _count(self, windows: _Windows, key: str, now: int) -> tuple[bool, int, int]:
        """Count one request of ``key``: (allowed, count in the window, window reset)."""
        if now >= windows.next_prune:
            # Forget finished windows once per window, so idle clients cost no memory.
            windows.counts = {k: w for k, w in windows.counts.items() if w[1] > now}
            windows.next_prune = now + self._window_seconds
        count, reset = windows.counts.get(key, (0, 0))
        if reset <= now:
            count, reset = 0, now + self._window_seconds
        if count >= self.max_requests:
            return False, count, reset
        windows.counts[key] = (count + 1, reset)
        return True, count + 1, reset

    async def _buyer_key(self, scope: Scope, app: Any, windows: _Windows) -> str | None:
        """The bucket of the request's buyer, if it is on a buyer's path with a token that
        verifies; None otherwise (counted per address; the route answers a bad token's 401)."""
        if not windows.buyer_paths or not _under(scope["path"], windows.buyer_paths):
            return None
        authorization = _authorization(scope)
        if not authorization:
            return None
        authenticator = windows.authenticator
        if authenticator is None:
            try:
                authenticator = objects_of(app.state).get("buyer_authenticator")
            except (KeyError, RuntimeError):
                return None  # an app without the container's objects: per address
            windows.authenticator = authenticator
        try:
            return BUYER_KEY + await buyer_of(scope, authenticator, authorization)
        except (InvalidToken, IdentityUnavailable):
            return None

    def _client_key(
        self, scope: Scope, request: Request[Any, Any, Any] | None, windows: _Windows
    ) -> str:
        if request is None:
            # Litestar's default identifier is the peer address: read it off the scope rather
            # than build a Request for it on every call; behind a trusted proxy, the address it
            # forwards (client_address.py).
            client = scope.get("client")
            peer = client[0] if client else "127.0.0.1"
            return client_address(peer, scope["headers"], windows.trusted)
        return self.cache_key_from_request(request)

    def _windows_of(self, app: Any) -> _Windows:
        # Litestar builds one middleware per route: the windows are the app's, in its state,
        # looked up once per middleware.
        windows = self._windows
        if windows is None:
            windows = app.state.get(_STATE_KEY)
            if windows is None:
                windows = app.state[_STATE_KEY] = _Windows()
            self._windows = windows
        return windows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("method") == "OPTIONS":
            # Never counted: a browser's CORS preflight (answered by the CORS middleware before
            # routing when it carries ``Origin``) and a bare OPTIONS both cost nothing.
            await self.app(scope, receive, send)
            return
        app = scope["litestar_app"]
        request: Request[Any, Any, Any] | None = None
        if self.check_throttle_handler is not None or not self._default_identifier:
            request = app.request_class(scope)
            if not await self.should_check_request(request=request):
                await self.app(scope, receive, send)
                return
        now = int(time.time())
        windows = self._windows_of(app)
        buyer_key = await self._buyer_key(scope, app, windows)
        key = buyer_key or self._client_key(scope, request, windows)
        shared = await windows.shared.count(key) if windows.shared is not None else None
        if shared is not None:
            count, reset_ms = shared
            allowed = count <= self.max_requests
            reset = now + -(-reset_ms // 1000)  # whole seconds, rounded up
        else:
            allowed, count, reset = self._count(windows, key, now)
        if allowed:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(reset - now, 1))
        config = self.config
        headers = {
            config.rate_limit_policy_header_key: f"{self.max_requests}; w={self._window_seconds}",
            config.rate_limit_limit_header_key: str(self.max_requests),
            config.rate_limit_remaining_header_key: str(max(self.max_requests - count, 0)),
            config.rate_limit_reset_header_key: str(max(reset - now, 0)),
            "Retry-After": retry_after,
        }
        response = problem(
            429,
            "rate_limited",
            f"too many requests from this {'buyer' if buyer_key else 'address'}; "
            f"retry after {retry_after} s",
            headers=headers,
        )
        answer = response.to_asgi_response(app=None, request=request or app.request_class(scope))
        await answer(scope, receive, send)


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    """``RATE_LIMIT_PER_MINUTE`` requests per buyer (or client IP) and minute."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=list(UNLIMITED_PATHS),
        middleware_class=ProblemRateLimitMiddleware,
        # On the 429 only (see the module's docstring); the middleware refuses True.
        set_rate_limit_headers=False,
    )
