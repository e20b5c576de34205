"""Asking for an order to be advanced, now or later."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class JobScheduler(Protocol):
    """Runs ``AdvanceOrder`` for an order at (or soon after) a time. At most one run per order
    is queued at once; running it twice is harmless, it is only wasted work."""

    async def schedule_advance(self, order_id: str, *, at: datetime | None = None) -> None:
        """Advance ``order_id`` at ``at`` (None: as soon as possible).

        ``InfrastructureUnavailable`` if the queue cannot take the job.
        """

    async def ping(self) -> None:
        """Raise ``InfrastructureUnavailable`` if the queue cannot take jobs now."""
