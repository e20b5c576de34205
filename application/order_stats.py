"""The numbers of the whole order book, for the operator's dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from application.ports.order_queries import (
    PAID_STATUSES,
    MonthVolume,
    OldestOrder,
    OrderQueries,
    StatusCounts,
)
from domain import OrderStatus

S = OrderStatus
_RATE = Decimal("0.0001")
_SECONDS = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts per status, volume per month, success and completion rates (fractions 0..1,
    None with nothing to divide), paid → completed times in seconds, parked orders and the
    oldest order of each non-terminal status with its age at ``at``."""

    at: datetime
    total: int
    counts: StatusCounts
    months: list[MonthVolume]
    payment_success_rate: Decimal | None
    completion_rate: Decimal | None
    paid_to_completed_avg_seconds: Decimal | None
    paid_to_completed_p95_seconds: Decimal | None
    parked: int
    oldest: dict[OrderStatus, OldestOrder]

    def age_seconds(self, status: OrderStatus) -> Decimal | None:
        oldest = self.oldest.get(status)
        if oldest is None:
            return None
        return Decimal((self.at - oldest.created_at).total_seconds()).quantize(_SECONDS)


def _ratio(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATE, rounding=ROUND_HALF_EVEN)


def _seconds(milliseconds: Decimal) -> Decimal:
    return (milliseconds / 1000).quantize(_SECONDS, rounding=ROUND_HALF_EVEN)


class OrderStats:
    """Ask the store for its figures and derive the rates: the arithmetic lives here, once, so
    every store gives the same numbers for the same orders.

    - payment success rate: paid orders / orders whose payment is decided (not ``pending``);
    - completion rate: ``completed`` / paid orders.
    """

    def __init__(self, queries: OrderQueries) -> None:
        self._queries = queries

    async def execute(self, now: datetime) -> Stats:
        figures = await self._queries.figures()
        counts = figures.counts
        paid = sum(counts.of(s) for s in PAID_STATUSES)
        decided = counts.total - counts.of(S.PENDING)
        timing = figures.paid_to_completed
        return Stats(
            at=now,
            total=counts.total,
            counts=counts,
            months=figures.months,
            payment_success_rate=_ratio(paid, decided),
            completion_rate=_ratio(counts.of(S.COMPLETED), paid),
            paid_to_completed_avg_seconds=(
                _seconds(Decimal(timing.total_ms) / timing.count) if timing.count else None
            ),
            paid_to_completed_p95_seconds=(
                _seconds(Decimal(timing.p95_ms)) if timing.p95_ms is not None else None
            ),
            parked=counts.parked,
            oldest=figures.oldest,
        )
