"""The real clock."""

from __future__ import annotations

from datetime import UTC, datetime

from domain import to_milliseconds


class SystemClock:
    """Timezone-aware UTC wall-clock time, in whole milliseconds: the precision the store keeps,
    so every time the service creates reads back (and answers) exactly as it was first shown."""

    def now(self) -> datetime:
        return to_milliseconds(datetime.now(UTC))
