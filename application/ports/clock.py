"""Time, as a port, so tests and the simulator can move it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Tells the current time, timezone-aware UTC, in whole milliseconds."""

    def now(self) -> datetime: ...
