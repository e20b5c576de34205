"""``OrderRepository`` that counts the status moves it saves: orders entering each status,
retries of failed steps and parkings, read from the history lines each save adds."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from adapters.instrumented.metrics import PARKINGS, RETRIES, STATUS_ENTERED, child
from application.ports import OrderRepository
from domain import FAIL_STATUSES, IN_FLIGHT_STATUSES, Order, StatusChange
from domain.order import STEP_OF_FAIL_STATUS

#: How many orders' history lengths are remembered between a read and its save.
_REMEMBERED = 10_000


class InstrumentedOrderRepository:
    """Wraps an ``OrderRepository``; remembers how long each order's history was when it was
    read, and on a successful save counts the lines added since. Counting after the write means
    a lost compare-and-set counts nothing."""

    def __init__(self, inner: OrderRepository) -> None:
        self.inner = inner
        self._seen: OrderedDict[str, int] = OrderedDict()

    def _remember(self, order: Order | None) -> Order | None:
        if order is not None:
            self._seen[order.id] = len(order.history)
            self._seen.move_to_end(order.id)
            while len(self._seen) > _REMEMBERED:
                self._seen.popitem(last=False)
        return order

    def _remember_all(self, orders: list[Order]) -> list[Order]:
        for order in orders:
            self._remember(order)
        return orders

    @staticmethod
    def _count(lines: list[StatusChange], previous: StatusChange | None) -> None:
        for line in lines:
            moved = previous is None or line.status is not previous.status
            if moved:
                child(STATUS_ENTERED, line.status.value).inc()
                if (
                    previous is not None
                    and previous.status in FAIL_STATUSES
                    and line.status in IN_FLIGHT_STATUSES
                ):
                    child(RETRIES, STEP_OF_FAIL_STATUS[previous.status].value).inc()
            elif line.reason.startswith("parked:"):
                PARKINGS.inc()
            previous = line

    async def add(self, order: Order) -> None:
        await self.inner.add(order)
        self._count(order.history, None)
        self._remember(order)

    async def get(self, order_id: str) -> Order | None:
        return self._remember(await self.inner.get(order_id))

    async def get_by_reference_id(self, reference_id: str) -> Order | None:
        return self._remember(await self.inner.get_by_reference_id(reference_id))

    async def get_by_payment_id(self, payment_id: str) -> Order | None:
        return self._remember(await self.inner.get_by_payment_id(payment_id))

    async def save(self, order: Order, *, expected_version: int) -> None:
        await self.inner.save(order, expected_version=expected_version)
        # Not read through us: count the last line only (one save, usually one move).
        start = self._seen.get(order.id, max(len(order.history) - 1, 0))
        start = min(start, len(order.history))
        previous = order.history[start - 1] if start > 0 else None
        self._count(order.history[start:], previous)
        self._remember(order)

    async def due_for_retry(self, now: datetime, limit: int) -> list[Order]:
        return self._remember_all(await self.inner.due_for_retry(now, limit))

    async def pending_payments(self, updated_before: datetime, limit: int) -> list[Order]:
        return self._remember_all(await self.inner.pending_payments(updated_before, limit))

    async def stuck(self, updated_before: datetime, limit: int) -> list[Order]:
        return self._remember_all(await self.inner.stuck(updated_before, limit))

    async def ping(self) -> None:
        await self.inner.ping()
