"""What happened in a period, from the orders' own histories: how long orders stayed in each
status (p50 / p95), and the refunds asked for, by status, with the totals refunded per currency.

Computed here, once, from the orders the store hands over (those that can have a line in the
period), so every store gives the same numbers for the same orders.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from application.errors import InvalidQuery
from application.ports.order_queries import OrderQueries
from domain import Order, OrderStatus, RefundStatus, StatusChange

#: The most orders one period's figures read; beyond it the answer says ``truncated``.
MAX_PERIOD_ORDERS = 100_000
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class StatusTimes:
    """Stays in one status that began in the period and have ended: their count and the 50th
    and 95th percentiles (nearest rank) of their length, whole milliseconds."""

    count: int
    p50_ms: int
    p95_ms: int


@dataclass(frozen=True, slots=True)
class PeriodStats:
    start: datetime
    end: datetime
    #: Orders read (created before ``end``, changed at or after ``start``).
    orders: int
    truncated: bool
    time_in_status: dict[OrderStatus, StatusTimes]
    #: Refunds requested in the period, by their status now.
    refunds: dict[RefundStatus, int]
    #: Money refunded (refunds requested in the period that succeeded), per currency.
    refunded: dict[str, Decimal]


def stays(history: Sequence[StatusChange]) -> Iterator[tuple[OrderStatus, datetime, datetime]]:
    """Each ended stay of ``history``: a run of lines in one status, from its first line to the
    first line of the next status (lines that keep the status, such as a parking, are inside)."""
    runs = [list(run) for _, run in itertools.groupby(history, key=lambda c: c.status)]
    for run, following in itertools.pairwise(runs):
        yield run[0].status, run[0].at, following[0].at


def nearest_rank(values: Sequence[int], percent: int) -> int:
    """The nearest-rank ``percent``-th percentile (1 to 100) of sorted ``values`` (not empty),
    in integer arithmetic."""
    rank = -(-percent * len(values) // 100)  # ceil(percent * n / 100)
    return values[max(1, rank) - 1]


def period_stats(
    orders: Sequence[Order], start: datetime, end: datetime, *, truncated: bool
) -> PeriodStats:
    """The figures of ``orders`` for the period ``[start, end)``."""
    durations: dict[OrderStatus, list[int]] = {}
    refunds: dict[RefundStatus, int] = {}
    refunded: dict[str, Decimal] = {}
    for order in orders:
        for status, began, ended in stays(order.history):
            if start <= began < end:
                durations.setdefault(status, []).append((ended - began) // _MS)
        refund = order.refund
        if refund is not None and start <= refund.requested_at < end:
            refunds[refund.status] = refunds.get(refund.status, 0) + 1
            if refund.status is RefundStatus.SUCCEEDED:
                refunded[refund.currency] = (
                    refunded.get(refund.currency, Decimal(0)) + refund.amount
                )
    times = {}
    for status in OrderStatus:
        values = sorted(durations.get(status, []))
        if values:
            times[status] = StatusTimes(
                len(values), nearest_rank(values, 50), nearest_rank(values, 95)
            )
    return PeriodStats(
        start=start,
        end=end,
        orders=len(orders),
        truncated=truncated,
        time_in_status=times,
        refunds=refunds,
        refunded=dict(sorted(refunded.items())),
    )


class PeriodOrderStats:
    """``[start, end)`` figures from the store's orders that can have a line in the period."""

    def __init__(self, queries: OrderQueries, limit: int = MAX_PERIOD_ORDERS) -> None:
        self._queries = queries
        self._limit = limit

    async def execute(self, start: datetime, end: datetime) -> PeriodStats:
        for name, value in (("from", start), ("to", end)):
            if value.tzinfo is None:
                raise InvalidQuery(name, "must carry a timezone (e.g. 2026-03-01T00:00:00Z)")
        if start >= end:
            raise InvalidQuery("from", "must be before to")
        orders = await self._queries.active_between(start, end, self._limit + 1)
        truncated = len(orders) > self._limit
        return period_stats(orders[: self._limit], start, end, truncated=truncated)
