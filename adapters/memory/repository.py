"""An in-memory ``OrderRepository`` with the Mongo one's guarantees: unique reference id and
payment id, compare-and-set on version, and copies in and out (no shared mutable state)."""

from __future__ import annotations

import asyncio
import dataclasses
import operator
from datetime import datetime

from application.errors import DuplicateOrder, StaleOrder
from application.ports import relay_cue
from domain import FAIL_STATUSES, RESUMABLE_STATUSES, Order, OrderStatus

_FIELDS = dataclasses.fields(Order)
assert all(f.init for f in _FIELDS), "_detached passes every field to Order() by position"
_values_of = operator.attrgetter(*(f.name for f in _FIELDS))


def _detached(order: Order) -> Order:
    """A copy that shares nothing mutable with ``order``: every field of the aggregate is an
    immutable value except its history list, attempts dict and events list, so copying those three
    is enough. Built positionally, on the API's hot path (docs/benchmarks.md, "Repository")."""
    copy = Order(*_values_of(order))
    copy.history = list(order.history)
    copy.attempts = dict(order.attempts)
    copy.events = list(order.events)
    return copy


class InMemoryOrderRepository:
    """Orders in a dict, for tests, the simulator and the dev stack."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._by_reference: dict[str, str] = {}
        self._by_payment: dict[str, str] = {}
        # Each method reads and writes without awaiting in between, so the event loop alone makes
        # it atomic; the lock keeps it so if that ever changes.
        self._lock = asyncio.Lock()

    async def add(self, order: Order) -> None:
        async with self._lock:
            if order.id in self._orders:
                raise DuplicateOrder("id", order.id)
            if order.reference_id in self._by_reference:
                raise DuplicateOrder("reference_id", order.reference_id)
            if order.payment.id in self._by_payment:
                raise DuplicateOrder("payment.id", order.payment.id)
            order.relay_due_at = relay_cue(order)
            stored = _detached(order)
            stored.events_stored()
            self._orders[order.id] = stored
            self._by_reference[order.reference_id] = order.id
            self._by_payment[order.payment.id] = order.id
            order.events_stored()

    async def get(self, order_id: str) -> Order | None:
        order = self._orders.get(order_id)
        return _detached(order) if order is not None else None

    async def get_by_reference_id(self, reference_id: str) -> Order | None:
        order_id = self._by_reference.get(reference_id)
        return await self.get(order_id) if order_id is not None else None

    async def get_by_payment_id(self, payment_id: str) -> Order | None:
        order_id = self._by_payment.get(payment_id)
        return await self.get(order_id) if order_id is not None else None

    async def save(self, order: Order, *, expected_version: int) -> None:
        async with self._lock:
            stored = self._orders.get(order.id)
            if stored is None or stored.version != expected_version:
                raise StaleOrder(order.id, expected_version)
            if stored.reference_id != order.reference_id or stored.payment.id != order.payment.id:
                raise ValueError(f"order {order.id}: reference id and payment id never change")
            # The relay's cue (ADR 0016), as the Mongo codec writes it.
            order.relay_due_at = relay_cue(order)
            saved = _detached(order)
            saved.version = expected_version + 1
            saved.events_stored()  # the order and its new events, in the one write
            self._orders[order.id] = saved
            order.version = expected_version + 1
            order.events_stored()

    def _select(self, keep: object, limit: int) -> list[Order]:
        assert callable(keep)
        found = [o for o in self._orders.values() if keep(o)]
        found.sort(key=lambda o: o.updated_at)
        return [_detached(o) for o in found[:limit]]

    async def due_for_retry(self, now: datetime, limit: int) -> list[Order]:
        return self._select(
            lambda o: (
                o.status in FAIL_STATUSES
                and not o.parked
                and o.refund is None
                and (o.next_attempt_at is None or o.next_attempt_at <= now)
            ),
            limit,
        )

    async def refunds_due(self, now: datetime, limit: int) -> list[Order]:
        return self._select(
            lambda o: (
                o.refund is not None
                and not o.parked
                and o.refund.next_attempt_at is not None
                and o.refund.next_attempt_at <= now
            ),
            limit,
        )

    async def pending_payments(self, updated_before: datetime, limit: int) -> list[Order]:
        return self._select(
            lambda o: o.status is OrderStatus.PENDING and o.updated_at <= updated_before, limit
        )

    async def stuck(self, updated_before: datetime, limit: int) -> list[Order]:
        return self._select(
            lambda o: (
                o.status in RESUMABLE_STATUSES and not o.parked and o.updated_at <= updated_before
            ),
            limit,
        )

    async def ping(self) -> None:
        return None

    # --- the event relay's outbox (application.ports.EventOutbox) ---
    async def due(self, now: datetime, limit: int) -> list[Order]:
        found = [o for o in self._orders.values() if o.relay_due_at and o.relay_due_at <= now]
        found.sort(key=lambda o: o.relay_due_at or now)
        return [_detached(o) for o in found[:limit]]

    async def settle(self, order_id: str, version: int, next_look: datetime | None) -> bool:
        stored = self._orders.get(order_id)
        if stored is None or stored.version != version:
            return False
        stored.relay_due_at = next_look
        return True

    # --- for tests, the simulator and admin views ---
    def all(self) -> list[Order]:
        return [_detached(o) for o in self._orders.values()]
