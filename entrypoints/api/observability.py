"""Per request: a request id (the caller's ``X-Request-ID`` or a new one, echoed back), bound to
every log line of the request with the order id / reference id when the path or query names
them; one log line per answer; the HTTP and webhook metrics."""

from __future__ import annotations

import json
import random
import re
import time
from urllib.parse import unquote_plus

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import clear_contextvars

from adapters.instrumented.metrics import HTTP_LATENCY, HTTP_REQUESTS, WEBHOOKS, child
from entrypoints import log_config as logs
from entrypoints.log_config import bind_request

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}")
WEBHOOK_ROUTE = "/api/webhooks/payments"
#: Webhook answers other than 2xx, as the ``outcome`` label of ``orders_webhooks_total``.
_WEBHOOK_FAILURES = {
    400: "bad_request",
    401: "bad_signature",
    404: "unknown_payment",
    413: "bad_request",
    415: "bad_request",
    503: "unavailable",
}
_MAX_WEBHOOK_ANSWER = 4096
#: Seeded from os.urandom once per process.
_random_bits = random.Random().getrandbits  # noqa: S311 - an id, not a secret


def request_id_of(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1").strip()
            if _REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    # 128 random bits from the process's PRNG: a request id must be unique, not secret, and
    # os.urandom costs a system call per request.
    return f"{_random_bits(128):032x}"


def _webhook_outcome(status: int, body: bytes) -> str:
    if 200 <= status < 300:
        try:
            outcome = json.loads(body).get("outcome")
        except (ValueError, AttributeError):
            outcome = None
        return str(outcome) if outcome else "accepted"
    return _WEBHOOK_FAILURES.get(status, "error")


_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode("latin-1")


class ObservabilityMiddleware:
    """ASGI middleware of every route: request id, context, request log line, metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        route = scope.get("path_template") or "unmatched"
        method = scope["method"]
        clear_contextvars()
        path_params = scope.get("path_params")
        bind_request(
            request_id,
            order_id=path_params.get("order_id") if path_params else None,
            reference_id=_query_value(scope) if scope.get("query_string") else None,
        )
        request_id_header = (_REQUEST_ID_NAME, request_id.encode("latin-1"))
        is_webhook = route == WEBHOOK_ROUTE
        status = 500
        webhook_body = bytearray()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), request_id_header]
            elif (
                is_webhook
                and message["type"] == "http.response.body"
                and len(webhook_body) < _MAX_WEBHOOK_ANSWER
            ):
                webhook_body.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            # ``child`` caches by the int status: the label is its str, made once.
            child(HTTP_REQUESTS, method, route, status).inc()
            child(HTTP_LATENCY, method, route).observe(elapsed)
            if is_webhook:
                child(WEBHOOKS, _webhook_outcome(status, bytes(webhook_body))).inc()
            # structlog's own bound logger (entrypoints/log_config.py): no stdlib logging here.
            logs.http_log.info(
                "request",
                method=method,
                path=scope.get("path", route),
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )


def _query_value(scope: Scope, name: bytes = b"reference_id") -> str | None:
    query: bytes = scope.get("query_string", b"")
    for part in query.split(b"&"):
        key, _, value = part.partition(b"=")
        if key == name and value:
            return unquote_plus(value.decode("latin-1"))[:128]
    return None
