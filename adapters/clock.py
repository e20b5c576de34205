"""The real clock."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    """Timezone-aware UTC wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)
