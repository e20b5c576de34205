"""Refunds, re-sends and the amount check on fakes: the refund table, each way a refund is
requested, retries, parking, crashes and the operator's two choices for a failed transfer."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.fakes import Fault, SimulatedCrash
from application.errors import OrderFinished, RefundConflict
from application.ports import RefundState
from domain import (
    REFUND_TRANSITIONS,
    InvalidTransition,
    Order,
    OrderStatus,
    Refund,
    RefundCause,
    RefundStatus,
    replay_history,
)
from testkit.pipeline import InProcessPipeline
from tests.support.orders import order_request, placed_order

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def stored(world: InProcessPipeline, order_id: str) -> Order:
    found = await world.repository.get(order_id)
    assert found is not None
    return found


async def failed_order(world: InProcessPipeline, reference_id: str = "ref-1") -> Order:
    order = (await world.create_order.execute(order_request(reference_id))).order
    world.gateway.fail(order.payment.id)
    await world.advance.execute(order.id)
    return await stored(world, order.id)


async def parked_transfer(world: InProcessPipeline, fault: Fault = Fault.FAILED_ON_CHAIN) -> Order:
    order = (await world.create_order.execute(order_request())).order
    world.gateway.complete(order.payment.id)
    world.transfer_faults.script("send", fault)
    await world.advance.execute(order.id)
    parked = await stored(world, order.id)
    assert parked.parked
    assert parked.status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL
    return parked


# --- the table ---


def test_the_refund_table_is_the_issues() -> None:
    assert {
        RefundStatus.REQUESTED: {RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED},
        RefundStatus.PENDING: {RefundStatus.SUCCEEDED, RefundStatus.FAILED},
        RefundStatus.SUCCEEDED: set(),
        RefundStatus.FAILED: set(),
    } == REFUND_TRANSITIONS


@given(st.lists(st.sampled_from(list(RefundStatus)), max_size=6))
def test_a_refund_moves_only_along_its_table(targets: list[RefundStatus]) -> None:
    refund = Refund(RefundStatus.REQUESTED, Decimal("1"), "EUR", RefundCause.OPERATOR, "why", T0)
    for target in targets:
        if target in REFUND_TRANSITIONS[refund.status]:
            refund = refund.moved(target)
        else:
            with pytest.raises(ValueError, match="not allowed"):
                refund.moved(target)


# --- automatic refunds ---


async def test_a_late_payment_on_a_failed_order_is_refunded_once_of_the_paid_amount(
    world: InProcessPipeline,
) -> None:
    order = await failed_order(world)
    world.gateway.complete(order.payment.id, late=True, amount=Decimal("13.10"))
    for _ in range(3):  # duplicate webhooks
        await world.handle_notification.execute(order.payment.id)
        await world.run_due_jobs()
    done = await stored(world, order.id)
    assert done.status is OrderStatus.FAILED_PAY
    assert done.refund is not None
    assert (done.refund.status, done.refund.cause) == (
        RefundStatus.SUCCEEDED,
        RefundCause.LATE_PAYMENT,
    )
    assert list(world.gateway.refunds) == [f"{order.id}:refund"]
    assert world.gateway.refund_calls == 1
    assert [e.type.value for e in done.events][-2:] == ["order.refund_requested", "order.refunded"]
    assert replay_history(done.events) == done.history


async def test_a_mismatched_currency_is_refunded_in_that_currency(world: InProcessPipeline) -> None:
    order = (await world.create_order.execute(order_request())).order
    world.gateway.complete(order.payment.id, currency="USD")
    await world.advance.execute(order.id)
    done = await stored(world, order.id)
    assert done.status is OrderStatus.FAILED_PAY
    assert done.refund is not None
    assert (done.refund.amount, done.refund.currency) == (Decimal("13.10"), "USD")
    assert done.refund.cause is RefundCause.AMOUNT_MISMATCH


async def test_a_pending_refund_is_looked_up_until_it_settles(world: InProcessPipeline) -> None:
    world.gateway.refund_outcome = RefundState.PENDING
    order = await failed_order(world)
    world.gateway.complete(order.payment.id, late=True)
    await world.handle_notification.execute(order.payment.id)
    await world.run_due_jobs()
    pending = await stored(world, order.id)
    assert pending.refund is not None
    assert pending.refund.status is RefundStatus.PENDING
    world.gateway.settle_refunds(RefundState.SUCCEEDED)
    await world.settle(max_ticks=5, step_seconds=15)
    done = await stored(world, order.id)
    assert done.refund is not None
    assert done.refund.status is RefundStatus.SUCCEEDED
    assert world.gateway.refund_calls == 1


async def test_a_failed_refund_is_parked_for_a_person_and_not_retried(
    world: InProcessPipeline,
) -> None:
    world.gateway.refund_outcome = RefundState.FAILED
    order = await failed_order(world)
    world.gateway.complete(order.payment.id, late=True)
    await world.handle_notification.execute(order.payment.id)
    await world.run_due_jobs()
    done = await stored(world, order.id)
    assert done.refund is not None
    assert done.refund.status is RefundStatus.FAILED
    assert done.parked
    assert "failed" in (done.parked_reason or "")
    with pytest.raises(OrderFinished):
        await world.retry_now.execute(order_id=order.id)


async def test_refund_faults_retry_with_backoff_park_then_an_operator_resumes(
    world: InProcessPipeline,
) -> None:
    order = await failed_order(world)
    world.gateway.complete(order.payment.id, late=True)
    world.gateway_faults.script("refund_payment", Fault.TRANSIENT, Fault.TIMEOUT, Fault.TRANSIENT)
    await world.handle_notification.execute(order.payment.id)
    await world.settle(max_ticks=20, step_seconds=30)
    parked = await stored(world, order.id)
    assert parked.refund is not None
    assert parked.refund.status is RefundStatus.REQUESTED
    assert parked.parked
    assert parked.refund.attempts == 3
    assert world.gateway.refunds == {}
    await world.retry_now.execute(order_id=order.id)
    await world.run_due_jobs()
    done = await stored(world, order.id)
    assert done.refund is not None
    assert done.refund.status is RefundStatus.SUCCEEDED
    assert not done.parked


@pytest.mark.parametrize("fault", [Fault.CRASH_AFTER_EFFECT, Fault.LOST_ANSWER])
async def test_a_refund_made_but_not_recorded_is_replayed_under_its_key(
    world: InProcessPipeline, fault: Fault
) -> None:
    order = await failed_order(world)
    world.gateway.complete(order.payment.id, late=True)
    world.gateway_faults.script("refund_payment", fault)
    await world.handle_notification.execute(order.payment.id)
    with contextlib.suppress(SimulatedCrash):
        await world.run_due_jobs()
    assert len(world.gateway.refunds) == 1  # made at the gateway, unknown to the order
    world.clock.advance(3600)
    await world.settle(max_ticks=10, step_seconds=30)
    done = await stored(world, order.id)
    assert done.refund is not None
    assert done.refund.status is RefundStatus.SUCCEEDED
    assert len(world.gateway.refunds) == 1
    assert world.gateway.refund_calls == 2


# --- the operator's choices for a failed transfer ---


async def test_an_operator_refund_ends_the_fulfilment_for_good(world: InProcessPipeline) -> None:
    order = await parked_transfer(world)
    await world.refund_order.execute(order.id, "buyer asked")
    await world.settle(max_ticks=10, step_seconds=30)
    done = await stored(world, order.id)
    assert done.status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL
    assert done.refund is not None
    assert done.refund.status is RefundStatus.SUCCEEDED
    assert done.refund.amount == Decimal("13.10")
    assert not done.parked
    assert await world.repository.due_for_retry(world.clock.now(), 10) == []
    with pytest.raises(RefundConflict):
        await world.retry_transfer.execute(order.id, "changed my mind")
    with pytest.raises(OrderFinished):
        await world.retry_now.execute(order_id=order.id)
    again = await world.refund_order.execute(order.id, "buyer asked")  # a replay
    assert again.refund == done.refund
    assert len(world.gateway.refunds) == 1


async def test_no_refund_while_the_transfer_under_the_key_landed(world: InProcessPipeline) -> None:
    """Parked after its budget with the answer lost each time: the tokens went out."""
    order = (await world.create_order.execute(order_request())).order
    world.gateway.complete(order.payment.id)
    world.transfer_faults.script("send", Fault.LOST_ANSWER)
    world.transfer_faults.script("find_by_key", *[Fault.TRANSIENT] * 5)
    await world.settle(max_ticks=20, step_seconds=60)
    parked = await stored(world, order.id)
    assert parked.parked
    world.transfer_faults.clear()
    with pytest.raises(RefundConflict, match="confirmed"):
        await world.refund_order.execute(order.id, "buyer asked")
    with pytest.raises(RefundConflict, match="may still land"):
        await world.retry_transfer.execute(order.id, "try again")
    assert world.gateway.refunds == {}


async def test_a_re_send_uses_a_new_key_only_after_the_lookup_says_failed(
    world: InProcessPipeline,
) -> None:
    order = await parked_transfer(world)
    resent = await world.retry_transfer.execute(order.id, "pool fixed")
    assert resent.send_generation == 2
    assert "confirmed failed by lookup" in resent.history[-1].reason
    await world.run_due_jobs()
    done = await stored(world, order.id)
    assert done.status is OrderStatus.COMPLETED
    assert sorted(world.transfers.transfers) == [
        f"{order.id}:send_token",
        f"{order.id}:send_token:2",
    ]
    with pytest.raises(RefundConflict):
        await world.refund_order.execute(order.id, "too late")


async def test_no_re_send_when_no_transfer_was_ever_made(world: InProcessPipeline) -> None:
    order = await parked_transfer(world, Fault.PERMANENT)  # 422 slippage: nothing made
    with pytest.raises(RefundConflict, match="no transfer was made"):
        await world.retry_transfer.execute(order.id, "again")


async def test_a_short_transfer_parks_with_its_reason_and_is_not_refunded(
    world: InProcessPipeline,
) -> None:
    order = await parked_transfer(world, Fault.SHORT_ON_CHAIN)
    assert "below min_amount_token_receive 12.4" in (order.parked_reason or "")
    assert "order.transfer_short" in [e.type.value for e in order.events]
    with pytest.raises(RefundConflict, match="tokens"):
        await world.refund_order.execute(order.id, "short")
    await world.retry_now.execute(order_id=order.id)
    await world.run_due_jobs()
    again = await stored(world, order.id)
    assert again.parked
    assert again.status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL
    assert len(world.transfers.transfers) == 1


def test_an_order_is_never_refunded_twice_nor_after_completion() -> None:
    order = placed_order()
    order.mark_payment_failed(T0, "expired")
    order.request_refund(RefundCause.LATE_PAYMENT, Decimal("10.5"), "EUR", "late", T0)
    with pytest.raises(InvalidTransition, match="already has a refund"):
        order.request_refund(RefundCause.LATE_PAYMENT, Decimal("10.5"), "EUR", "late", T0)
    completed = placed_order(wallet="0xabc")
    completed.mark_paid(T0)
    with pytest.raises(InvalidTransition):
        completed.request_refund(RefundCause.OPERATOR, Decimal("10.5"), "EUR", "no", T0)
    assert list(itertools.chain(order.history))[-1].reason.startswith("refund of 10.5 EUR")
