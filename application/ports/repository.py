"""The order store."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain import Order


class OrderRepository(Protocol):
    """Where orders live. Every write is all-or-nothing; status writes are compare-and-set."""

    async def add(self, order: Order) -> None:
        """Store a new order; ``DuplicateOrder`` if its reference id or payment id is taken."""

    async def get(self, order_id: str) -> Order | None:
        """The order with this id, or None."""

    async def get_by_reference_id(self, reference_id: str) -> Order | None:
        """The order created under this reference id (the create idempotency key), or None."""

    async def get_by_payment_id(self, payment_id: str) -> Order | None:
        """The order paid by this gateway payment, or None."""

    async def save(self, order: Order, *, expected_version: int) -> None:
        """Write ``order`` only if the stored version is ``expected_version``, else ``StaleOrder``.

        On success the stored and the in-memory version become ``expected_version + 1``.
        """

    async def due_for_retry(self, now: datetime, limit: int) -> list[Order]:
        """Orders in a fail status, not parked, without a refund, whose next attempt is due
        at ``now``."""

    async def refunds_due(self, now: datetime, limit: int) -> list[Order]:
        """Orders whose refund is still open (``requested``/``pending``), not parked, and due
        to be called or looked up at ``now`` (a crashed call is due again: same key)."""

    async def pending_payments(self, updated_before: datetime, limit: int) -> list[Order]:
        """Orders still waiting for their payment, not checked since ``updated_before``
        (a check stamps ``updated_at``), least recently checked first."""

    async def stuck(self, updated_before: datetime, limit: int) -> list[Order]:
        """Unparked orders in ``RESUMABLE_STATUSES`` (domain) untouched since ``updated_before``:
        left by a crashed worker; at most ``limit``."""

    async def ping(self) -> None:
        """Raise ``InfrastructureUnavailable`` if the store cannot be reached."""
