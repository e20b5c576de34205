"""Reading the parts of an answer the caller needs beyond the parsed body: the contract's error
reason, ``Retry-After``, and a bounded excerpt for the log."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime

import msgspec

#: How much of an unexpected body goes into the log and the error's reason.
BODY_LOG_LIMIT = 500


class ErrorBody(msgspec.Struct):
    """The contract's error answer ``{"error": "<reason>"}``."""

    error: str


_error_decoder = msgspec.json.Decoder(ErrorBody)


def truncated(content: bytes, limit: int = BODY_LOG_LIMIT) -> str:
    """The first ``limit`` bytes as text (invalid UTF-8 replaced), ``…`` when cut."""
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
