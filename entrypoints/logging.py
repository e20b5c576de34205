"""Structured logs with structlog, for the API, the worker and the CLI.

``configure_logging(settings)`` routes every stdlib logger (ours, uvicorn's, SAQ's, the
drivers') through structlog's processors: one JSON object per line with ``LOG_FORMAT=json``,
readable key=value lines otherwise. Every line carries the context bound for the request or job
it belongs to (``request_id``, ``order_id``, ``reference_id``, ``job_key``), and
:func:`redact` masks secrets, payment tokens and passkey public keys before anything is written.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, merge_contextvars
from structlog.types import EventDict, Processor

from entrypoints.settings import Settings

#: Keys whose values are masked wherever they appear in a log line (nested too), compared
#: lower-case with ``-`` read as ``_``.
SECRET_KEYS = frozenset(
    {
        "authorization",
        "admin_token",
        "api_key",
        "x_api_key",
        "apikey",
        "secret",
        "secrets",
        "password",
        "token",
        "payment_token",
        "public_key",
        "x_signature",
        "signature",
        "cookie",
        "payment_gateway_api_key",
        "wallet_api_key",
        "transfer_api_key",
        "payment_webhook_secrets",
    }
)
#: Visible characters kept at the start of a masked value, so two can still be told apart.
KEEP = 4
_MIN_KNOWN_SECRET = 6
# ``Bearer <token>`` inside free text (an Authorization header echoed in a message).
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=\-]{4})[A-Za-z0-9._~+/=\-]*")

_known_secrets: tuple[str, ...] = ()


def mask(value: object) -> str:
    """``abcd…(32 chars)``: enough to correlate, never the value."""
    text = str(value)
    if len(text) <= KEEP * 2:
        return "***"
    return f"{text[:KEEP]}…({len(text)} chars)"


def _scrub_text(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}…", text)


def _scrub(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return _scrub_text(value)
    if isinstance(value, Mapping):
        return {
            k: (mask(v) if _is_secret_key(k) and v not in (None, "") else _scrub(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, depth + 1) for v in value)
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SECRET_KEYS


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask the values of secret keys (nested too), every configured secret
    wherever it appears in text, and bearer tokens in free text."""
    for key, value in list(event_dict.items()):
        if _is_secret_key(key) and value not in (None, ""):
            event_dict[key] = mask(value)
        elif key != "exc_info":
            event_dict[key] = _scrub(value)
    return event_dict


def register_secrets(values: Iterable[str]) -> None:
    """Values masked wherever they appear in a log line (API keys, webhook secrets, the admin
    token). Very short values are skipped: masking them would mangle ordinary words."""
    global _known_secrets  # noqa: PLW0603 - one process-wide set, written at startup
    found = {v for v in values if v and len(v) >= _MIN_KNOWN_SECRET}
    # Longest first, so a secret containing another is masked whole.
    _known_secrets = tuple(sorted(found | set(_known_secrets), key=len, reverse=True))


def settings_secrets(settings: Settings) -> list[str]:
    return [
        settings.admin_token,
        settings.payment_gateway_api_key,
        settings.wallet_api_key,
        settings.transfer_api_key,
        *settings.payment_webhook_secrets,
    ]


def _drop_color_message(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    # uvicorn duplicates its message with ANSI colours in an extra field.
    event_dict.pop("color_message", None)
    return event_dict


def shared_processors() -> list[Processor]:
    return [
        merge_contextvars,
        # Fields passed as ``extra=`` to a stdlib logger become keys of the line.
        structlog.stdlib.ExtraAdder(),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_color_message,
        redact,
    ]


def configure_logging(
    settings: Settings, *, stream: Any = None, force_format: str | None = None
) -> None:
    """Route all logging through structlog; idempotent (a second call replaces the handler)."""
    register_secrets(settings_secrets(settings))
    fmt = force_format or settings.log_format
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = shared_processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if fmt == "json" else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("orders-service")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "orders-service"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # uvicorn's loggers carry their own handlers; let them reach ours instead. Its access log is
    # replaced by the API's own request line, which has the request id and the route.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def _identity(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    return event_dict


# --- context ----------------------------------------------------------------------------------


def _order_context(order_id: str | None, reference_id: str | None) -> dict[str, str]:
    context = {}
    if order_id:
        context["order_id"] = order_id
    if reference_id:
        context["reference_id"] = reference_id
    return context


def bind_order(order_id: str | None = None, reference_id: str | None = None) -> None:
    """Add the order being worked on to every following line of this request or job."""
    context = _order_context(order_id, reference_id)
    if context:
        bind_contextvars(**context)


def bind_request(
    request_id: str, *, order_id: str | None = None, reference_id: str | None = None
) -> None:
    """The request id, and the order when the request names it, on every following line of the
    request, in one ``bind_contextvars`` (the API's middleware does this on every request)."""
    bind_contextvars(request_id=request_id, **_order_context(order_id, reference_id))


async def bind_job_context(ctx: Any) -> None:
    """SAQ ``before_process`` hook: the job's key and order id on every line of the job (SAQ
    runs the job in a task created right after this, which copies the context)."""
    clear_contextvars()
    job = ctx.get("job")
    if job is None:
        return
    bind_contextvars(job_key=job.key, job=job.function)
    order_id = (job.kwargs or {}).get("order_id")
    if order_id:
        bind_contextvars(order_id=order_id)


get_logger = structlog.stdlib.get_logger
