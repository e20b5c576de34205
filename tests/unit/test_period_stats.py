"""Time in each status and refund totals of a period, from histories (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from application.period_stats import nearest_rank, period_stats, stays
from domain import OrderStatus, RefundCause, RefundStatus, StatusChange
from tests.support.orders import placed_order

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_stay_runs_from_its_first_line_to_the_next_status() -> None:
    history = [
        StatusChange(OrderStatus.PENDING, at(0)),
        StatusChange(OrderStatus.COMPLETED_PAY, at(2)),
        StatusChange(OrderStatus.CREATING_WALLET, at(3)),
        StatusChange(OrderStatus.CREATE_WALLET_FAIL, at(4)),
        StatusChange(OrderStatus.CREATE_WALLET_FAIL, at(9), "parked: x"),
        StatusChange(OrderStatus.CREATING_WALLET, at(20)),
    ]
    assert [(s, b, e) for s, b, e in stays(history)] == [
        (OrderStatus.PENDING, at(0), at(2)),
        (OrderStatus.COMPLETED_PAY, at(2), at(3)),
        (OrderStatus.CREATING_WALLET, at(3), at(4)),
        (OrderStatus.CREATE_WALLET_FAIL, at(4), at(20)),
    ]


def test_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (nearest_rank(values, 50), nearest_rank(values, 95)) == (50, 95)
    assert nearest_rank([7], 95) == 7


def test_the_period_counts_stays_begun_in_it_and_its_refunds() -> None:
    early = placed_order()
    early.mark_payment_failed(at(10), "expired")  # pending 0 → 10 s
    early.request_refund(RefundCause.LATE_PAYMENT, Decimal("10.5"), "EUR", "late", at(20))
    early.refund_answered("rf_1", RefundStatus.SUCCEEDED, None, at(21), recheck_at=None)
    late = placed_order()
    late.history = [
        StatusChange(OrderStatus.PENDING, at(100)),
        StatusChange(OrderStatus.FAILED_PAY, at(104)),
    ]
    stats = period_stats([early, late], at(0), at(50), truncated=False)
    assert stats.time_in_status[OrderStatus.PENDING].count == 1
    assert stats.time_in_status[OrderStatus.PENDING].p50_ms == 10_000
    assert stats.refunded == {"EUR": Decimal("10.5")}
    both = period_stats([early, late], at(0), at(200), truncated=False)
    assert both.time_in_status[OrderStatus.PENDING].count == 2
    assert (
        both.time_in_status[OrderStatus.PENDING].p50_ms,
        both.time_in_status[OrderStatus.PENDING].p95_ms,
    ) == (
        4_000,
        10_000,
    )
