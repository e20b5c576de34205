"""An under-payment (NOWPayments' ``partially_paid``: the buyer sent less than asked) is not a
payment: the order stays pending, and what was sent is kept on it for a refund
(docs/nowpayments.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import EventType, InvalidTransition, Order, OrderStatus, Payment, replay_history
from testkit.pipeline import InProcessPipeline
from tests.support.orders import order_request

ASKED = Decimal("0.08777")


async def pending_order(world: InProcessPipeline) -> Order:
    return (await world.create_order.execute(order_request())).order


async def stored(world: InProcessPipeline, order: Order) -> Order:
    found = await world.repository.get(order.id)
    assert found is not None
    return found


async def test_an_underpayment_is_kept_on_the_pending_order(world: InProcessPipeline) -> None:
    order = await pending_order(world)
    world.gateway.underpay(order.payment.id, Decimal("0.04"), "sol", ASKED)
    await world.advance.execute(order.id)

    found = await stored(world, order)
    assert found.status is OrderStatus.PENDING
    assert (found.payment.paid_amount, found.payment.paid_currency) == (Decimal("0.04"), "sol")
    assert found.history[-1].status is OrderStatus.PENDING
    assert found.history[-1].reason == "underpaid: 0.04 sol received of 0.08777 sol asked; not paid"
    last = found.events[-1]
    assert last.type is EventType.PAYMENT_UNDERPAID
    assert last.data == {
        "status": "pending",
        "paid_amount": "0.04",
        "paid_currency": "sol",
        "pay_amount": "0.08777",
    }
    assert replay_history(found.events) == found.history


async def test_the_same_underpayment_seen_again_records_nothing_more(
    world: InProcessPipeline,
) -> None:
    order = await pending_order(world)
    world.gateway.underpay(order.payment.id, Decimal("0.04"), "sol", ASKED)
    await world.advance.execute(order.id)
    await world.advance.execute(order.id)
    found = await stored(world, order)
    assert [e.type for e in found.events].count(EventType.PAYMENT_UNDERPAID) == 1

    # More money, still short: the new amount replaces the old, with a line of its own.
    world.gateway.underpay(order.payment.id, Decimal("0.06"), "sol", ASKED)
    await world.advance.execute(order.id)
    found = await stored(world, order)
    assert found.payment.paid_amount == Decimal("0.06")
    assert [e.type for e in found.events].count(EventType.PAYMENT_UNDERPAID) == 2
    assert replay_history(found.events) == found.history


async def test_an_underpaid_payment_that_expires_fails_the_order_and_keeps_the_amount(
    world: InProcessPipeline,
) -> None:
    order = await pending_order(world)
    world.gateway.underpay(order.payment.id, Decimal("0.04"), "sol", ASKED)
    world.gateway.expire(order.payment.id)
    await world.advance.execute(order.id)

    found = await stored(world, order)
    assert found.status is OrderStatus.FAILED_PAY
    assert (found.payment.paid_amount, found.payment.paid_currency) == (Decimal("0.04"), "sol")
    assert [c.reason for c in found.history][-2:] == [
        "underpaid: 0.04 sol received of 0.08777 sol asked; not paid",
        "gateway reports the payment expired",
    ]
    assert replay_history(found.events) == found.history


async def test_a_full_payment_is_no_underpayment(world: InProcessPipeline) -> None:
    order = await pending_order(world)
    world.gateway.underpay(order.payment.id, ASKED, "sol", ASKED)  # all of it, not yet final
    await world.advance.execute(order.id)
    found = await stored(world, order)
    assert found.payment.paid_amount is None
    assert EventType.PAYMENT_UNDERPAID not in {e.type for e in found.events}


def test_only_a_pending_order_records_an_underpayment(world: InProcessPipeline) -> None:
    payment = Payment("pay-1", "", None, "pending", Decimal("13.10"), "EUR")
    order = Order.place(order_request(), payment, at=world.clock.now())
    order.mark_paid(world.clock.now())
    with pytest.raises(InvalidTransition):
        order.record_underpayment(Decimal("1"), "sol", ASKED, world.clock.now())
