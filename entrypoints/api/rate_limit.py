"""Per-client-IP rate limits on the public and admin endpoints: Litestar's ``RateLimitConfig`` and
middleware class, with the counting replaced by a fixed window per client in the app's memory
(see ``ProblemRateLimitMiddleware``), so each API process counts on its own.

``OPTIONS`` is never counted (a browser's CORS preflight precedes its real request). The webhook
(the gateway redelivers whatever we refuse, so a limit there only delays payments),
the probes and ``/metrics`` are excluded. A refused request gets a 429 problem with
``Retry-After`` (seconds until the window resets) next to Litestar's ``RateLimit-*`` headers.
Answers that are not refused carry no ``RateLimit-*`` headers (``set_rate_limit_headers`` is off):
four headers on every answer cost a read about 5 % on the wire (~15 µs, docs/benchmarks.md), for
a budget the frontend never reads; the 429 tells a client what it needs.
"""

from __future__ import annotations

import time
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

from entrypoints.api.problems import problem

#: Paths never limited (regular expressions matched at the start of the path).
UNLIMITED_PATHS = (r"^/api/webhooks/", r"^/health$", r"^/ready$", r"^/metrics$")


_STATE_KEY = "rate_limit_windows"


@dataclass(slots=True)
class _Windows:
    """Every client's fixed window of one app: ``key -> (count, reset)``."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    next_prune: int = 0


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

    def _client_key(self, scope: Scope, request: Request[Any, Any, Any] | None) -> str:
        if request is None:
            # Litestar's default identifier is the peer address: read it off the scope rather
            # than build a Request for it on every call.
            client = scope.get("client")
            return client[0] if client else "127.0.0.1"
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
        allowed, count, reset = self._count(
            self._windows_of(app), self._client_key(scope, request), now
        )
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
            f"too many requests from this address; retry after {retry_after} s",
            headers=headers,
        )
        answer = response.to_asgi_response(app=None, request=request or app.request_class(scope))
        await answer(scope, receive, send)


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    """``RATE_LIMIT_PER_MINUTE`` requests per client IP and minute."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=list(UNLIMITED_PATHS),
        middleware_class=ProblemRateLimitMiddleware,
        # On the 429 only (see the module's docstring); the middleware refuses True.
        set_rate_limit_headers=False,
    )
