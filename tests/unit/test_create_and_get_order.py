"""CreateOrder, GetOrder and HandlePaymentNotification on fakes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from adapters.fakes import Fault
from application.errors import (
    DownstreamTimeout,
    IdempotencyConflict,
    InfrastructureUnavailable,
    OrderNotFound,
    PaymentNotFound,
    TransientDownstreamError,
)
from domain import OrderStatus
from testkit.pipeline import InProcessPipeline
from tests.support.orders import order_request


async def test_create_stores_a_pending_order_with_the_gateways_payment(
    world: InProcessPipeline,
) -> None:
    result = await world.create_order.execute(order_request())
    assert not result.replayed
    order = result.order
    assert order.status is OrderStatus.PENDING
    assert order.payment.id in world.gateway.payments
    stored = world.gateway.payments[order.payment.id]
    assert stored.request.amount == Decimal("13.10")
    assert stored.request.order_id == order.id
    assert await world.get_order.by_reference_id("ref-1") is not None


async def test_the_same_request_replays_without_a_second_payment(world: InProcessPipeline) -> None:
    first = await world.create_order.execute(order_request())
    again = await world.create_order.execute(order_request())
    assert again.replayed
    assert again.order.id == first.order.id
    assert again.order.payment == first.order.payment
    assert len(world.gateway.payments) == 1


async def test_the_same_reference_with_another_request_is_a_conflict(
    world: InProcessPipeline,
) -> None:
    await world.create_order.execute(order_request())
    with pytest.raises(IdempotencyConflict):
        await world.create_order.execute(order_request(amount_token=Decimal(13)))
    stored = await world.get_order.by_reference_id("ref-1")
    assert stored.amount_token == Decimal("12.500000")


async def test_a_gateway_failure_leaves_nothing_and_a_retry_succeeds(
    world: InProcessPipeline,
) -> None:
    world.gateway_faults.script("create_payment", Fault.TRANSIENT)
    with pytest.raises(TransientDownstreamError):
        await world.create_order.execute(order_request())
    with pytest.raises(OrderNotFound):
        await world.get_order.by_reference_id("ref-1")
    result = await world.create_order.execute(order_request())
    assert not result.replayed
    assert len(world.gateway.payments) == 1


async def test_a_lost_gateway_answer_is_replayed_under_the_same_key(
    world: InProcessPipeline,
) -> None:
    world.gateway_faults.script("create_payment", Fault.LOST_ANSWER)
    with pytest.raises(DownstreamTimeout):
        await world.create_order.execute(order_request())
    assert len(world.gateway.payments) == 1  # the gateway made it; we never heard
    result = await world.create_order.execute(order_request())
    assert world.gateway.replays == 1
    assert len(world.gateway.payments) == 1
    assert result.order.payment.id == next(iter(world.gateway.payments))


async def test_concurrent_identical_creates_make_one_order_and_one_payment(
    world: InProcessPipeline,
) -> None:
    results = await asyncio.gather(
        *(world.create_order.execute(order_request()) for _ in range(50))
    )
    assert len({r.order.id for r in results}) == 1
    assert len({r.order.payment.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert len(world.gateway.payments) == 1


async def test_concurrent_different_requests_under_one_reference_one_wins(
    world: InProcessPipeline,
) -> None:
    outcomes = await asyncio.gather(
        world.create_order.execute(order_request()),
        world.create_order.execute(order_request(price_fiat=Decimal(99))),
        return_exceptions=True,
    )
    assert sum(isinstance(o, IdempotencyConflict) for o in outcomes) == 1
    assert len(world.gateway.payments) == 1


async def test_get_order_by_id_and_unknown_ids(world: InProcessPipeline) -> None:
    order = (await world.create_order.execute(order_request())).order
    assert (await world.get_order.by_id(order.id)).reference_id == "ref-1"
    with pytest.raises(OrderNotFound):
        await world.get_order.by_id("nope")
    with pytest.raises(OrderNotFound):
        await world.get_order.by_reference_id("nope")


async def test_a_notification_for_an_unknown_payment_is_not_found(world: InProcessPipeline) -> None:
    with pytest.raises(PaymentNotFound):
        await world.handle_notification.execute("pay_unknown")
    assert world.scheduler.calls == []


async def test_a_notification_schedules_the_order_now(world: InProcessPipeline) -> None:
    order = (await world.create_order.execute(order_request())).order
    await world.handle_notification.execute(order.payment.id)
    assert world.scheduler.jobs == {order.id: world.clock.now()}


async def test_a_notification_for_a_completed_order_schedules_nothing(
    world: InProcessPipeline,
) -> None:
    order = (await world.create_order.execute(order_request())).order
    world.gateway.complete(order.payment.id)
    await world.run_due_jobs()
    await world.advance.execute(order.id)
    completed = await world.repository.get(order.id)
    assert completed is not None
    assert completed.status is OrderStatus.COMPLETED
    await world.handle_notification.execute(order.payment.id)
    assert world.scheduler.jobs == {}


async def test_a_notification_for_a_failed_order_is_looked_at_once_refunded_never(
    world: InProcessPipeline,
) -> None:
    """failed_pay may hear of a late payment; once its refund exists nothing is scheduled."""
    order = (await world.create_order.execute(order_request())).order
    world.gateway.fail(order.payment.id)
    await world.advance.execute(order.id)
    await world.handle_notification.execute(order.payment.id)
    assert world.scheduler.jobs == {order.id: world.clock.now()}
    await world.run_due_jobs()  # the payment did not complete: nothing happens
    looked_at = await world.repository.get(order.id)
    assert looked_at is not None
    assert looked_at.refund is None
    world.gateway.complete(order.payment.id, late=True)
    await world.handle_notification.execute(order.payment.id)
    await world.run_due_jobs()
    refunded = await world.repository.get(order.id)
    assert refunded is not None
    assert refunded.refund is not None
    assert refunded.refund.status.value == "succeeded"
    await world.handle_notification.execute(order.payment.id)
    assert world.scheduler.jobs == {}


async def test_a_queue_outage_surfaces_so_the_gateway_redelivers(world: InProcessPipeline) -> None:
    order = (await world.create_order.execute(order_request())).order
    world.scheduler.unavailable = True
    with pytest.raises(InfrastructureUnavailable):
        await world.handle_notification.execute(order.payment.id)
