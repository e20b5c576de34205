"""CORS for a browser frontend on another origin: ``CORS_ALLOWED_ORIGINS`` (exact origins).

Litestar's ``CORSMiddleware`` wraps the router, so a preflight (``OPTIONS`` with ``Origin``) is
answered before any route middleware runs: it is never rate limited nor logged as a request.
Only what the API's routes use is allowed: the methods ``GET`` and ``POST``; the request headers
``Content-Type`` (JSON bodies), ``Authorization`` (the admin API's bearer token) and
``X-Request-ID`` (a caller's own request id, echoed back). No cookies are used: credentials stay
off. A browser may read ``X-Request-ID``, ``Location``, ``Retry-After`` and
``Idempotent-Replayed`` from an answer.
"""

from __future__ import annotations

from litestar.config.cors import CORSConfig

ALLOWED_METHODS = ("GET", "POST")
ALLOWED_HEADERS = ("Content-Type", "Authorization", "X-Client-Secret", "X-Request-ID")
EXPOSED_HEADERS = (
    "X-Request-ID",
    "Location",
    "Retry-After",
    "Idempotent-Replayed",
    "WWW-Authenticate",
)
#: How long a browser may cache a preflight's answer.
MAX_AGE_SECONDS = 600


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """The CORS configuration for these exact origins; None (no CORS headers) when empty."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=list(ALLOWED_METHODS),  # type: ignore[arg-type]
        allow_headers=list(ALLOWED_HEADERS),
        allow_credentials=False,
        expose_headers=list(EXPOSED_HEADERS),
        max_age=MAX_AGE_SECONDS,
    )
