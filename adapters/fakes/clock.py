"""A clock that only moves when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain import to_milliseconds


class FakeClock:
    """A ``Clock`` that moves only by ``advance`` and ``set``; it starts at 2026-01-01 UTC unless
    told otherwise and answers whole milliseconds, as the system clock does."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        # Whole milliseconds, as the system clock tells them.
        return to_milliseconds(self._now)

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        self._now = when
