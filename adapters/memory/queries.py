"""``OrderQueries`` over the in-memory repository's orders: the reference reading of every
filter, sort and figure, which the Mongo adapter must match (one contract suite runs both)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.memory.repository import InMemoryOrderRepository
from application.ports.order_queries import (
    OPEN_STATUSES,
    PAID_STATUSES,
    MonthVolume,
    OldestOrder,
    OrderBookFigures,
    OrderFilters,
    OrderPage,
    OrderSort,
    PaidToCompleted,
    Position,
    StatusCounts,
    sort_key_of,
)
from domain import Order, OrderStatus

_MS = timedelta(milliseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _after(order: Order, position: Position) -> bool:
    # Same field on both sides (a Position checks its key's type against its sort).
    key: Any = sort_key_of(order, position.sort)
    pivot: Any = position.key
    if position.sort.descending:
        return bool(key < pivot or (key == pivot and order.id < position.order_id))
    return bool(key > pivot or (key == pivot and order.id > position.order_id))


def _first_at(order: Order, status: OrderStatus, *, last: bool = False) -> datetime | None:
    times = [c.at for c in order.history if c.status is status]
    if not times:
        return None
    return times[-1] if last else times[0]


def paid_to_completed_ms(order: Order) -> int | None:
    """Milliseconds from the first ``completed_pay`` to the last ``completed`` line (whole
    milliseconds of each time, as a BSON date keeps them)."""
    paid = _first_at(order, OrderStatus.COMPLETED_PAY)
    done = _first_at(order, OrderStatus.COMPLETED, last=True)
    if paid is None or done is None:
        return None
    return _whole_ms(done) - _whole_ms(paid)


def _whole_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // _MS


def nearest_rank(sorted_values: list[int], percent: int) -> int | None:
    """The nearest-rank percentile of ascending ``sorted_values``."""
    if not sorted_values:
        return None
    rank = math.ceil(percent * len(sorted_values) / 100)
    return sorted_values[max(rank, 1) - 1]


class InMemoryOrderQueries:
    """Reads the repository's orders (copies) and filters, sorts and counts them in Python."""

    def __init__(self, repository: InMemoryOrderRepository) -> None:
        self._repository = repository

    async def search(
        self, filters: OrderFilters, sort: OrderSort, after: Position | None, limit: int
    ) -> OrderPage:
        found = [
            o
            for o in self._repository.all()
            if filters.matches(o) and (after is None or _after(o, after))
        ]
        found.sort(key=lambda o: (sort_key_of(o, sort), o.id), reverse=sort.descending)
        page = found[:limit]
        following = None
        if len(found) > limit and page:
            last = page[-1]
            following = Position(sort, sort_key_of(last, sort), last.id)
        return OrderPage(orders=page, next_position=following)

    async def figures(self) -> OrderBookFigures:
        orders = self._repository.all()
        by_status: dict[OrderStatus, int] = {}
        months: dict[tuple[str, str], MonthVolume] = {}
        durations: list[int] = []
        for order in orders:
            by_status[order.status] = by_status.get(order.status, 0) + 1
            month = order.created_at.astimezone(UTC).strftime("%Y-%m")
            key = (month, order.fiat_currency)
            paid = order.status in PAID_STATUSES
            before = months.get(key) or MonthVolume(month, order.fiat_currency, 0, 0, Decimal(0))
            months[key] = MonthVolume(
                month=month,
                currency=order.fiat_currency,
                orders=before.orders + 1,
                paid_orders=before.paid_orders + (1 if paid else 0),
                paid_volume=before.paid_volume + (order.price_fiat if paid else Decimal(0)),
            )
            if order.status is OrderStatus.COMPLETED:
                ms = paid_to_completed_ms(order)
                if ms is not None:
                    durations.append(ms)
        durations.sort()
        return OrderBookFigures(
            counts=StatusCounts(by_status=by_status, parked=sum(1 for o in orders if o.parked)),
            months=[months[k] for k in sorted(months)],
            paid_to_completed=PaidToCompleted(
                count=len(durations), total_ms=sum(durations), p95_ms=nearest_rank(durations, 95)
            ),
            oldest=self._oldest(orders),
        )

    async def oldest_open(self) -> dict[OrderStatus, OldestOrder]:
        return self._oldest(self._repository.all())

    async def parked_count(self) -> int:
        return sum(1 for o in self._repository.all() if o.parked)

    async def active_between(self, start: datetime, end: datetime, limit: int) -> list[Order]:
        found = [o for o in self._repository.all() if o.created_at < end and o.updated_at >= start]
        found.sort(key=lambda o: (o.created_at, o.id))
        return found[:limit]

    @staticmethod
    def _oldest(orders: list[Order]) -> dict[OrderStatus, OldestOrder]:
        oldest: dict[OrderStatus, Order] = {}
        for order in orders:
            if order.status not in OPEN_STATUSES:
                continue
            seen = oldest.get(order.status)
            if seen is None or (order.created_at, order.id) < (seen.created_at, seen.id):
                oldest[order.status] = order
        return {
            status: OldestOrder(status, o.id, o.reference_id, o.created_at)
            for status, o in oldest.items()
        }
