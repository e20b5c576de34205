"""Structured logs with structlog, for the API, the worker and the CLI.

``configure_logging(settings)`` sends every line, ours and the libraries', through one chain of
processors and one renderer: one JSON object per line with ``LOG_FORMAT=json``, readable
key=value lines otherwise. Every line carries the context bound for the request or job it
belongs to (``request_id``, ``order_id``, ``reference_id``, ``job_key``), and :func:`redact`
masks secrets, payment tokens and passkey public keys before anything is written.

The hot path (the API's line per request, :data:`http_log`) is structlog's own filtering bound
logger: no stdlib ``logging`` on the way, the event rendered to bytes by msgspec and written to
the stream's binary buffer. Library loggers (uvicorn, SAQ, httpx, the drivers) and our modules
that log through stdlib reach :class:`_Handler`, which builds the same event dict and runs the
same chain. Redaction looks keys up in a set (cached per key name); the line's strings, joined,
get substring tests for the configured secrets and the word ``bearer``, and only a line that
has one is scrubbed value by value, so a secret echoed in a message is still masked.
``bench/bench_log.py`` measures a line.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars
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
#: Whether a key names a secret, by key as written (a few dozen distinct keys in practice).
_secret_key_cache: dict[str, bool] = {}
_MAX_CACHED_KEYS = 4096
#: Values that cannot carry text: never scanned.
_PLAIN = frozenset({int, float, bool, type(None)})


def mask(value: object) -> str:
    """``abcd…(32 chars)``: enough to correlate, never the value."""
    text = str(value)
    if len(text) <= KEEP * 2:
        return "***"
    return f"{text[:KEEP]}…({len(text)} chars)"


def _may_hide_a_secret(text: str) -> bool:
    """Substring tests, no pattern: a known secret, or the word bearer in any case."""
    for secret in _known_secrets:
        if secret in text:
            return True
    return "bearer" in text.lower()


def _scrub_text(text: str) -> str:
    if not _may_hide_a_secret(text):
        return text
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
    if not isinstance(key, str):
        return False
    verdict = _secret_key_cache.get(key)
    if verdict is None:
        verdict = key.lower().replace("-", "_") in SECRET_KEYS
        if len(_secret_key_cache) < _MAX_CACHED_KEYS:
            _secret_key_cache[key] = verdict
    return verdict


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask the values of secret keys (nested too), every configured secret
    wherever it appears in text, and bearer tokens in free text.

    Keys are looked up in a set (cached per key as written). The top-level strings are searched
    once, joined: a line without a secret (nearly all of them) costs one pattern search."""
    texts = []
    cache = _secret_key_cache
    for key, value in event_dict.items():
        secret = cache.get(key)
        if secret is None:
            secret = _is_secret_key(key)
        if secret:
            if value is not None and value != "":
                event_dict[key] = mask(value)
        elif type(value) is str:
            texts.append(value)
        elif type(value) not in _PLAIN and key != "exc_info":
            event_dict[key] = _scrub(value)
    if texts and _may_hide_a_secret("\0".join(texts)):
        for key, value in event_dict.items():
            if type(value) is str and not _is_secret_key(key):
                event_dict[key] = _scrub_text(value)
    return event_dict


def register_secrets(values: Iterable[str]) -> None:
    """Values masked wherever they appear in a log line (API keys, webhook secrets, the admin
    token). Very short values are skipped: masking them would mangle ordinary words."""
    global _known_secrets  # noqa: PLW0603 - one process-wide set, written at startup
    found = {v for v in values if v and len(v) >= _MIN_KNOWN_SECRET}
    # Longest first, so a secret containing another is masked whole.
    _known_secrets = tuple(sorted(found | set(_known_secrets), key=len, reverse=True))


def settings_secrets(settings: Settings) -> list[str]:
    """The setting values redaction masks wherever they appear: every setting declared
    ``secret=True`` (tokens, API keys, signing secrets), so a new secret is masked without a
    change here."""
    values: list[str] = []
    for item in dataclasses.fields(settings):
        var = item.metadata.get("setting")
        if var is None or not var.secret:
            continue
        value = getattr(settings, item.name)
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, tuple):
            values.extend(v for v in value if isinstance(v, str))
    return values


# --- the chain every line goes through ---------------------------------------------------------

_PREFIX_LEN = len(structlog.contextvars.STRUCTLOG_KEY_PREFIX)
_context_vars: dict[str, Any] | None = getattr(structlog.contextvars, "_CONTEXT_VARS", None)


def merge_context(logger: Any, method: str, event_dict: EventDict) -> EventDict:
    """structlog's ``merge_contextvars``, reading only the variables structlog has made (it
    keeps them in one dict) instead of copying and walking the whole context of the task."""
    if _context_vars is None:  # pragma: no cover - a structlog without that dict
        return structlog.contextvars.merge_contextvars(logger, method, event_dict)
    for name, var in tuple(_context_vars.items()):
        value = var.get()
        if value is not Ellipsis:
            event_dict.setdefault(name[_PREFIX_LEN:], value)
    return event_dict


def _add_logger_name(logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    name = getattr(logger, "name", None)
    if name:
        event_dict["logger"] = name
    return event_dict


_second = -1
_second_text = ""


def _timestamp(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    # What structlog's TimeStamper(fmt="iso", utc=True) writes (microseconds always shown), with
    # the date and time formatted once per second.
    global _second, _second_text  # noqa: PLW0603 - a one-entry cache
    now = time.time()
    second = int(now)
    if second != _second:
        _second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second = second
    event_dict["timestamp"] = f"{_second_text}.{int((now - second) * 1e6):06d}Z"
    return event_dict


def _encode_other(value: Any) -> str:
    return str(value)


_json = msgspec.json.Encoder(enc_hook=_encode_other)


def render_json(_logger: Any, _method: str, event_dict: EventDict) -> bytes:
    """One JSON object, as bytes (msgspec); anything it cannot encode is written as ``str()``."""
    try:
        return _json.encode(event_dict)
    except (TypeError, ValueError, msgspec.EncodeError):
        return json.dumps(event_dict, default=str).encode()


def shared_processors(fmt: str = "json") -> list[Processor]:
    """What every line goes through first, once its own fields are in: the bound context, the
    exception as text (JSON), then redaction, so that a secret in an exception's message is
    masked too (the level, logger name and timestamp come after: they carry no secret)."""
    if fmt == "json":
        return [merge_context, structlog.processors.format_exc_info, redact]
    return [merge_context, redact]


def _console_tracebacks() -> Any:
    """Tracebacks on the console without the frames' local variables, which redaction never
    sees (rich, when installed, would print them)."""
    try:
        import rich  # noqa: F401, PLC0415
    except ImportError:  # pragma: no cover - rich comes with litestar
        return structlog.dev.plain_traceback
    return structlog.dev.RichTracebackFormatter(show_locals=False)


def _rendering(fmt: str) -> list[Processor]:
    """What every line goes through last: the timestamp and the renderer."""
    if fmt == "json":
        return [_timestamp, render_json]
    return [
        _timestamp,
        structlog.dev.ConsoleRenderer(colors=False, exception_formatter=_console_tracebacks()),
    ]


class _Sink:
    """Writes one rendered line (bytes or str) and flushes it: to the stream's binary buffer
    when it has one (stderr), else as text (a ``StringIO`` in tests). A line is one ``write``,
    so lines from two threads never mix."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self._buffer = getattr(stream, "buffer", None)

    def __call__(self, line: bytes | str) -> None:
        if self._buffer is not None:
            self._buffer.write(line + b"\n" if isinstance(line, bytes) else f"{line}\n".encode())
            self._buffer.flush()
        else:
            self.stream.write(f"{line.decode()}\n" if isinstance(line, bytes) else f"{line}\n")
            self.stream.flush()


class LineLogger:
    """The logger structlog wraps: hands each rendered line to the sink, whatever the level
    (the bound logger above it has already filtered by level)."""

    __slots__ = ("_sink", "name")

    def __init__(self, sink: Callable[[bytes | str], None], name: str = "") -> None:
        self._sink = sink
        self.name = name

    def msg(self, line: bytes | str) -> None:
        self._sink(line)

    debug = info = warning = warn = error = err = critical = fatal = exception = failure = log = msg


# LogRecord attributes that are not ``extra=`` fields of the call.
_RECORD_FIELDS = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "taskName"}
)


class _Handler(logging.Handler):
    """stdlib records (libraries, and our modules that log through stdlib) into the same chain
    and the same sink as structlog's lines."""

    def __init__(self, first: list[Processor], last: list[Processor], sink: _Sink) -> None:
        super().__init__()
        self._first = first
        self._last = last
        self.sink = sink
        self.set_name(HANDLER_NAME)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event: Any = {"event": record.getMessage()}
            for key, value in record.__dict__.items():
                # uvicorn repeats its message with ANSI colours in ``color_message``.
                if key not in _RECORD_FIELDS and key != "color_message":
                    event[key] = value
            if record.exc_info:
                event["exc_info"] = record.exc_info
            if record.stack_info:
                event["stack"] = record.stack_info
            method = record.levelname.lower()
            for processor in self._first:
                event = processor(None, method, event)
            event["level"] = method
            event["logger"] = record.name
            for processor in self._last:
                event = processor(None, method, event)
            self.sink(event)
        except Exception:  # noqa: BLE001 - logging must never take the caller down
            self.handleError(record)


HANDLER_NAME = "orders-service"
HTTP_LOGGER = "orders_service.http"


class _DemoteCronPasses(logging.Filter):
    """SAQ logs every cron pass at INFO (enqueuing, processing, finished, scheduled): those
    become DEBUG lines, written only when the log level is debug."""

    _PER_JOB = frozenset({"Enqueuing %s", "Processing %s", "Finished %s"})

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO:
            return True
        job = record.args[0] if isinstance(record.args, tuple) and record.args else ""
        cron = record.msg == "Scheduled %s" or (
            record.msg in self._PER_JOB and "key: cron:" in str(job)
        )
        if not cron:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_cron_filter = _DemoteCronPasses()
#: Loggers whose INFO lines repeat ours: kept at WARNING unless the level is debug.
_QUIETED = ("httpx",)


def _stdlib_http_log() -> Any:
    """Before ``configure_logging`` (tests that build the app alone): the request line goes to
    the stdlib logger, where pytest's ``caplog`` sees it."""
    return structlog.stdlib.BoundLogger(
        logging.getLogger(HTTP_LOGGER), [structlog.stdlib.render_to_log_kwargs], {}
    )


#: The API's per-request logger (entrypoints/api/observability.py). ``configure_logging``
#: replaces it with structlog's own filtering bound logger on the chosen format.
http_log: Any = _stdlib_http_log()


def configure_logging(
    settings: Settings, *, stream: Any = None, force_format: str | None = None
) -> None:
    """Route all logging through one chain; idempotent (a second call replaces the first)."""
    global http_log  # noqa: PLW0603 - the process's logging, set up at startup
    register_secrets(settings_secrets(settings))
    fmt = force_format or settings.log_format
    level = settings.log_level.upper()
    sink = _Sink(stream if stream is not None else sys.stderr)
    first, last = shared_processors(fmt), _rendering(fmt)
    processors: list[Processor] = [
        *first,
        structlog.processors.add_log_level,
        _add_logger_name,
        *last,
    ]
    wrapper = structlog.make_filtering_bound_logger(settings.log_level)
    structlog.configure(
        processors=processors,
        wrapper_class=wrapper,
        logger_factory=lambda *args: LineLogger(sink, str(args[0]) if args else ""),
        # Not cached: a second configure_logging (tests) must reach loggers made before it.
        cache_logger_on_first_use=False,
    )
    # A concrete bound logger (no lazy proxy to resolve per line).
    http_log = structlog.wrap_logger(
        LineLogger(sink, HTTP_LOGGER), processors=processors, wrapper_class=wrapper
    ).bind()

    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(_Handler(first, last, sink))
    root.setLevel(level)
    # uvicorn's loggers carry their own handlers; let them reach ours instead. Its access log is
    # replaced by the API's own request line, which has the request id and the route.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # One line per downstream call is the adapter's (at DEBUG when the answer was expected).
    for name in _QUIETED:
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else logging.WARNING)
    saq = logging.getLogger("saq")
    if _cron_filter not in saq.filters:
        saq.addFilter(_cron_filter)


def reset_logging() -> None:
    """Undo :func:`configure_logging` (tests): stdlib's defaults and structlog's."""
    global http_log  # noqa: PLW0603
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    logging.getLogger("uvicorn.access").disabled = False
    for name in _QUIETED:
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.getLogger("saq").removeFilter(_cron_filter)
    structlog.reset_defaults()
    http_log = _stdlib_http_log()


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


get_logger = structlog.get_logger
