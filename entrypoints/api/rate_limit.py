"""Per-client-IP rate limits on the public endpoints, with Litestar's own ``RateLimitConfig``.

The webhook (the gateway redelivers whatever we refuse, so a limit there only delays payments),
the probes and ``/metrics`` are excluded. A refused request gets a 429 problem with
``Retry-After`` (seconds until the window resets) next to Litestar's ``RateLimit-*`` headers.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig, RateLimitMiddleware
from litestar.types import Receive, Scope, Send

from entrypoints.api.problems import problem

#: Paths never limited (regular expressions matched at the start of the path).
UNLIMITED_PATHS = (r"^/api/webhooks/", r"^/health$", r"^/ready$", r"^/metrics$")


class ProblemRateLimitMiddleware(RateLimitMiddleware):
    """Litestar's middleware, answering its 429 as a problem with ``Retry-After``.

    Litestar raises ``TooManyRequestsException`` from the middleware, outside the route's
    exception handling, so the answer is written here."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except TooManyRequestsException as exc:
            headers = {str(k): str(v) for k, v in (exc.headers or {}).items()}
            reset = headers.get(self.config.rate_limit_reset_header_key, "")
            retry_after = str(max(int(reset), 1)) if reset.lstrip("-").isdigit() else "60"
            headers["Retry-After"] = retry_after
            response = problem(
                429,
                "rate_limited",
                f"too many requests from this address; retry after {retry_after} s",
                headers=headers,
            )
            request: Request[Any, Any, Any] = Request(scope)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    """``RATE_LIMIT_PER_MINUTE`` requests per client IP and minute."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=list(UNLIMITED_PATHS),
        middleware_class=ProblemRateLimitMiddleware,
    )
