"""Who is creating an order's payment, for a gateway that takes no idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PaymentIntent:
    """A create in progress: ``owner`` alone may call the gateway for ``order_id`` until
    ``lease_until``; ``attempt`` counts the holders so far (above 1: an earlier holder vanished,
    or gave up, and this one took over)."""

    order_id: str
    reference_id: str
    owner: str
    attempt: int
    lease_until: datetime


class PaymentIntents(Protocol):
    """At most one holder per order at a time, across every process sharing the store. Writes
    are durable: an intent acknowledged survives a crash of the store."""

    async def claim(
        self, order_id: str, reference_id: str, owner: str, *, now: datetime, lease_until: datetime
    ) -> PaymentIntent | None:
        """Take the order's intent, atomically: when nobody holds it, or its lease ended before
        ``now``. The intent taken, or None while another holder's lease runs."""

    async def release(self, intent: PaymentIntent) -> None:
        """Give the intent up, only if ``intent.owner`` still holds it (compare-and-set); a
        holder that lost its lease to another changes nothing."""
