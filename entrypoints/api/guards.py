"""``before_request`` hooks: checks that run before Litestar reads and decodes the body, so a
wrong content type is a 415 and an unsigned webhook a 401, whatever the body holds, and a body
that is empty, too deep or repeats a key is a 400 before any decoder sees it
(``entrypoints/api/bodies.py``)."""

from __future__ import annotations

from typing import Any

from litestar import Request

from adapters.http.webhook_signature import SignatureError, WebhookVerifier
from entrypoints.api.bodies import check_json_body
from entrypoints.api.dependencies import objects_of
from entrypoints.api.problems import SignatureRejected, UnsupportedMediaType


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _media_type(request: Request[Any, Any, Any]) -> str:
    # Straight from the raw scope headers: ``request.content_type`` parses every header into
    # Litestar's structures first, a measurable share of a create's cost.
    for name, value in request.scope["headers"]:
        if name == b"content-type":
            return value.decode("latin-1").partition(";")[0].strip()
    return ""


async def require_json(request: Request[Any, Any, Any]) -> None:
    """415 unless the body is declared JSON (``application/json``, charset allowed)."""
    media_type = _media_type(request)
    if not _is_json(media_type.lower()):
        shown = media_type or "none"
        raise UnsupportedMediaType(f"Content-Type must be application/json, got {shown}")


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """415 unless the body is declared JSON, then 400 if it is empty, too deep or repeats a key."""
    await require_json(request)
    await check_json_body(request)


async def require_signed_json(request: Request[Any, Any, Any]) -> None:
    """The webhook's gate: read the raw body (413 over the limit), check ``X-Signature`` over it
    (401), then the content type (415), then the body's depth and keys (400). Litestar decodes
    the body afterwards from the same bytes (``Request.body()`` caches them)."""
    body = await request.body()
    verifier: WebhookVerifier = objects_of(request.app.state).get("webhook_verifier")
    try:
        verifier.verify(request.headers.get("x-signature"), body)
    except SignatureError as exc:
        raise SignatureRejected(exc.reason) from None
    await require_json_body(request)
