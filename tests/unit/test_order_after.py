"""``order_after``: the order as it stood after each of its events, which the merchant webhook
carries (``data.order``), rebuilt from the events alone and compared with the real thing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest

from domain import Order, Payment, TransferResult, order_after
from domain.refund import RefundCause
from entrypoints.api.schemas import OrderView
from tests.support.orders import order_request

T0 = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def placed() -> Order:
    payment = Payment("pay-1", "tok", "https://pay/1", "pending", Decimal("13.10"), "EUR")
    return Order.place(order_request(), payment, at=T0)


def confirmed() -> TransferResult:
    return TransferResult("tr-1", "confirmed", "sig-1", Decimal("12.45"))


Move = Callable[[Order], None]


def _view(order: Order) -> bytes:
    return msgspec.json.encode(OrderView.of(order))


def _paid(order: Order) -> None:
    order.record_payment_status("completed")
    order.mark_paid(at(1))


def _payment_failed(order: Order) -> None:
    order.record_payment_status("failed")
    order.mark_payment_failed(at(1), "failed")


def _start(seconds: float) -> Move:
    return lambda order: order.start_step(order.next_step(), at(seconds))


def _fail(seconds: float, *, retry: bool) -> Move:
    return lambda order: order.step_failed(
        at(seconds), f"boom at {seconds}", retry_at=at(seconds + 5) if retry else None
    )


PATHS: dict[str, list[Move]] = {
    "straight": [
        _paid,
        _start(2),
        lambda o: o.wallet_created("0xabc", at(3)),
        lambda o: o.tokens_sent(confirmed(), at(4)),
    ],
    "failures, park, operator retry": [
        _paid,
        _start(2),
        _fail(3, retry=True),
        _start(9),
        _fail(10, retry=False),
        lambda o: o.unpark(at(20)),
        _start(21),
        lambda o: o.wallet_created("0xabc", at(22)),
        _fail(23, retry=True),
        _start(30),
        lambda o: o.tokens_sent(confirmed(), at(31)),
    ],
    "payment failed": [
        _payment_failed,
    ],
}


@pytest.mark.parametrize("path", PATHS)
def test_each_event_rebuilds_the_order_as_it_stood_then(path: str) -> None:
    order = placed()
    seen: list[bytes] = [_view(order)]  # after event 1
    for move in PATHS[path]:
        before = len(order.events)
        move(order)
        # A move that records two events (tokens sent + completed; failed + parked) shows the
        # order after both: the first of the two is checked against its own rebuild below.
        seen.extend([b""] * (len(order.events) - before - 1))
        seen.append(_view(order))
    for sequence, expected in enumerate(seen, start=1):
        if expected:
            assert _view(order_after(order, sequence)) == expected, f"event {sequence}"


def test_the_first_event_shows_the_payment_pending_even_when_it_is_paid_since() -> None:
    order = placed()
    _paid(order)
    assert order_after(order, 1).payment.status == "pending"
    assert order_after(order, 1).status.value == "pending"
    assert order_after(order, 2) is order


def test_a_sequence_outside_the_events_is_refused() -> None:
    order = placed()
    with pytest.raises(ValueError, match="no event 2"):
        order_after(order, 2)
    with pytest.raises(ValueError, match="no event 0"):
        order_after(order, 0)


def test_an_operator_re_send_and_a_refund_rebuild_without_error() -> None:
    order = placed()
    for move in PATHS["straight"][:3]:
        move(order)
    order.step_failed(at(4), "transfer failed on chain", retry_at=None)  # parks
    order.resend_tokens(at(5), "tr-1", "lookup says failed")
    assert order.send_generation == 2
    after_resend = len(order.events)
    order.start_step(order.next_step(), at(6))
    order.step_failed(at(6.5), "again", retry_at=None)
    order.request_refund(RefundCause.OPERATOR, Decimal("13.10"), "EUR", "give up", at(7))
    for sequence in range(1, len(order.events) + 1):
        _view(order_after(order, sequence))  # every one rebuilds
    assert order_after(order, after_resend).send_generation == 2
    assert order_after(order, after_resend - 1).send_generation == 1
