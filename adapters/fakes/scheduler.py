"""A scheduler that records what is due, for tests to run by hand."""

from __future__ import annotations

from datetime import datetime

from application.errors import InfrastructureUnavailable
from application.ports import Clock


class RecordingScheduler:
    """Keeps the earliest due time per order, as a queue deduplicating by key would."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.jobs: dict[str, datetime] = {}
        self.calls: list[tuple[str, datetime | None]] = []
        self.unavailable = False

    async def schedule_advance(self, order_id: str, *, at: datetime | None = None) -> None:
        self.calls.append((order_id, at))
        if self.unavailable:
            raise InfrastructureUnavailable("queue", "scripted outage")
        when = at or self._clock.now()
        current = self.jobs.get(order_id)
        if current is None or when < current:
            self.jobs[order_id] = when

    async def ping(self) -> None:
        if self.unavailable:
            raise InfrastructureUnavailable("queue", "scripted outage")

    def pop_due(self) -> list[str]:
        """Take every job due now, earliest first."""
        now = self._clock.now()
        due = sorted((at, oid) for oid, at in self.jobs.items() if at <= now)
        for _, oid in due:
            del self.jobs[oid]
        return [oid for _, oid in due]

    def next_due_at(self) -> datetime | None:
        return min(self.jobs.values(), default=None)
