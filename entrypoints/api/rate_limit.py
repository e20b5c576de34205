"""Per-client-IP rate limits on the public endpoints, with Litestar's own ``RateLimitConfig``.

The webhook (the gateway redelivers whatever we refuse, so a limit there only delays payments),
the probes and ``/metrics`` are excluded. A refused request gets a 429 problem with
``Retry-After`` (seconds until the window resets) next to Litestar's ``RateLimit-*`` headers.
"""

from __future__ import annotations

import time
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    RateLimitConfig,
    RateLimitMiddleware,
)
from litestar.types import Message, Receive, Scope, Send

from entrypoints.api.problems import problem

#: Paths never limited (regular expressions matched at the start of the path).
UNLIMITED_PATHS = (r"^/api/webhooks/", r"^/health$", r"^/ready$", r"^/metrics$")


class ProblemRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's middleware and config (store, client identifier, exclusions, header names),
    counting a fixed window per client as ``<count>:<reset>``.

    Litestar's own keeps a timestamp per request and re-encodes the whole list as JSON on every
    request, which costs O(limit) per request; and it raises its 429 outside the route's
    exception handling, so the answer is written here, as a problem with ``Retry-After``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        request: Request[Any, Any, Any] = app.request_class(scope)
        if not await self.should_check_request(request=request):
            await self.app(scope, receive, send)
            return
        store = self.config.get_store_from_app(app)
        key = self.cache_key_from_request(request)
        window = DURATION_VALUES[self.unit]
        now = int(time.time())
        async with self._lock:
            count, reset = _decode(await store.get(key))
            if reset <= now:
                count, reset = 0, now + window
            allowed = count < self.max_requests
            if allowed:
                count += 1
                await store.set(key, f"{count}:{reset}", expires_in=max(reset - now, 1))
        headers = {
            self.config.rate_limit_policy_header_key: f"{self.max_requests}; w={window}",
            self.config.rate_limit_limit_header_key: str(self.max_requests),
            self.config.rate_limit_remaining_header_key: str(max(self.max_requests - count, 0)),
            self.config.rate_limit_reset_header_key: str(max(reset - now, 0)),
        }
        if not allowed:
            retry_after = str(max(reset - now, 1))
            response = problem(
                429,
                "rate_limited",
                f"too many requests from this address; retry after {retry_after} s",
                headers={**headers, "Retry-After": retry_after},
            )
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)
            return
        if not self.config.set_rate_limit_headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                mutable = MutableScopeHeaders(message)
                for name, value in headers.items():
                    mutable[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _decode(raw: bytes | None) -> tuple[int, int]:
    if not raw:
        return 0, 0
    count, _, reset = raw.decode("ascii", errors="replace").partition(":")
    try:
        return int(count), int(reset)
    except ValueError:
        return 0, 0  # unreadable: start a new window


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    """``RATE_LIMIT_PER_MINUTE`` requests per client IP and minute."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=list(UNLIMITED_PATHS),
        middleware_class=ProblemRateLimitMiddleware,
    )
