"""``OrderRepository`` that counts the events each save stores: every event by type, orders
entering each status, retries of failed steps and parkings, read from the events themselves
(docs/events.md), never from history text."""

from __future__ import annotations

from datetime import datetime

from adapters.instrumented.metrics import (
    EVENTS,
    PARKINGS,
    REFUNDS,
    RETRIES,
    STATUS_ENTERED,
    TRANSFERS_SHORT,
    child,
)
from application.ports import OrderRepository
from domain import MOVES, REFUND_EVENTS, EventType, Order, OrderEvent


def count(events: list[OrderEvent]) -> None:
    """Count ``events``, just stored."""
    for event in events:
        child(EVENTS, event.type.value).inc()
        if event.type in MOVES:
            child(STATUS_ENTERED, str(event.data["status"])).inc()
        if event.type is EventType.STEP_STARTED and event.data.get("retry") is True:
            child(RETRIES, str(event.data["step"])).inc()
        elif event.type is EventType.PARKED:
            PARKINGS.inc()
        elif event.type is EventType.TRANSFER_SHORT:
            TRANSFERS_SHORT.inc()
        if event.type in REFUND_EVENTS:
            child(REFUNDS, str(event.data["refund"])).inc()


class InstrumentedOrderRepository:
    """Wraps an ``OrderRepository``; on a successful write counts the events it stored (the
    order's ``new_events`` before the write). Counting after the write means a lost
    compare-and-set, which stores none of its events, counts nothing."""

    def __init__(self, inner: OrderRepository) -> None:
        self.inner = inner

    async def add(self, order: Order) -> None:
        new = order.new_events
        await self.inner.add(order)
        count(new)

    async def get(self, order_id: str) -> Order | None:
        return await self.inner.get(order_id)

    async def get_by_reference_id(self, reference_id: str) -> Order | None:
        return await self.inner.get_by_reference_id(reference_id)

    async def get_by_payment_id(self, payment_id: str) -> Order | None:
        return await self.inner.get_by_payment_id(payment_id)

    async def save(self, order: Order, *, expected_version: int) -> None:
        new = order.new_events
        await self.inner.save(order, expected_version=expected_version)
        count(new)

    async def due_for_retry(self, now: datetime, limit: int) -> list[Order]:
        return await self.inner.due_for_retry(now, limit)

    async def refunds_due(self, now: datetime, limit: int) -> list[Order]:
        return await self.inner.refunds_due(now, limit)

    async def pending_payments(self, updated_before: datetime, limit: int) -> list[Order]:
        return await self.inner.pending_payments(updated_before, limit)

    async def stuck(self, updated_before: datetime, limit: int) -> list[Order]:
        return await self.inner.stuck(updated_before, limit)

    async def ping(self) -> None:
        await self.inner.ping()
