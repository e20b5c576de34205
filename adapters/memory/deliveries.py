"""An in-memory ``DeliveryLog`` with the Mongo one's compare-and-set (tests, the dev stack)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from application.ports import Delivery, StaleDelivery


class InMemoryDeliveryLog:
    """Delivery states in a dict keyed by subscriber and order."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], Delivery] = {}

    async def get(self, subscriber: str, order_id: str) -> Delivery | None:
        return self._states.get((subscriber, order_id))

    async def put(self, delivery: Delivery, *, expected_version: int) -> Delivery:
        key = (delivery.subscriber, delivery.order_id)
        stored = self._states.get(key)
        if (0 if stored is None else stored.version) != expected_version:
            raise StaleDelivery(delivery.subscriber, delivery.order_id, expected_version)
        saved = replace(delivery, version=expected_version + 1)
        self._states[key] = saved
        return saved

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        found = [d for d in self._states.values() if d.due_at is not None and d.due_at <= now]
        found.sort(key=lambda d: d.due_at or now)
        return found[:limit]

    async def of_order(self, order_id: str) -> list[Delivery]:
        return sorted(
            (d for d in self._states.values() if d.order_id == order_id),
            key=lambda d: d.subscriber,
        )

    async def of_orders(self, order_ids: Sequence[str]) -> list[Delivery]:
        wanted = set(order_ids)
        return [d for d in self._states.values() if d.order_id in wanted]
