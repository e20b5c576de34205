"""AdvanceOrder, the pipeline, on fakes: every step, every failure, every crash point."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.fakes import FakeWalletService, Fault, address_for
from application.advance_order import AdvanceOrder
from application.errors import OrderFinished
from application.policy import PipelineTimings
from application.ports import OrderRepository, Wallet
from domain import Order, OrderStatus, Step
from testkit.pipeline import InProcessPipeline
from tests.support.orders import order_request


async def paid_order(
    world: InProcessPipeline, reference_id: str = "ref-1", **overrides: object
) -> Order:
    order = (await world.create_order.execute(order_request(reference_id, **overrides))).order
    world.gateway.complete(order.payment.id)
    return order


async def stored(world: InProcessPipeline, order: Order) -> Order:
    found = await world.repository.get(order.id)
    assert found is not None
    return found


def statuses(order: Order) -> list[str]:
    return [c.status.value for c in order.history if not c.reason.startswith("parked")]


async def test_a_paid_order_gets_a_wallet_and_exactly_one_transfer(
    world: InProcessPipeline,
) -> None:
    order = await paid_order(world)
    await world.advance.execute(order.id)
    done = await stored(world, order)
    assert done.status is OrderStatus.COMPLETED
    assert statuses(done) == [
        "pending",
        "completed_pay",
        "creating_wallet",
        "sending_token_to_smartwallet",
        "completed",
    ]
    assert done.smart_wallet_address == address_for("cred-ref-1")
    [transfer] = world.transfers.transfers.values()
    assert transfer.key == f"{order.id}:send_token"
    assert transfer.request.destination == done.smart_wallet_address
    assert transfer.request.amount == Decimal("12.500000")
    assert transfer.request.min_amount_out == Decimal("12.4")
    assert transfer.request.slippage_percent == Decimal("1.5")
    assert done.transfer is not None
    assert done.transfer.tx_signature is not None
    assert world.wallets.calls == [f"{order.id}:create_wallet"]
    assert world.transfers.lookups == 0  # a first send needs no lookup


async def test_an_order_with_a_wallet_goes_straight_to_sending(world: InProcessPipeline) -> None:
    order = await paid_order(world, smart_wallet_address="0xmine")
    await world.advance.execute(order.id)
    done = await stored(world, order)
    assert statuses(done) == [
        "pending",
        "completed_pay",
        "sending_token_to_smartwallet",
        "completed",
    ]
    assert world.wallets.calls == []
    [transfer] = world.transfers.transfers.values()
    assert transfer.request.destination == "0xmine"


class PeekingWallets(FakeWalletService):
    """Reads the stored order while the call is in flight."""

    def __init__(self, repository: OrderRepository, order_id: str) -> None:
        super().__init__()
        self.repository = repository
        self.order_id = order_id
        self.seen: list[OrderStatus] = []

    async def create_wallet(
        self, *, credential_id: str, public_key: str, idempotency_key: str
    ) -> Wallet:
        order = await self.repository.get(self.order_id)
        assert order is not None
        self.seen.append(order.status)
        return await super().create_wallet(
            credential_id=credential_id, public_key=public_key, idempotency_key=idempotency_key
        )


async def test_each_step_is_saved_before_its_call(world: InProcessPipeline) -> None:
    order = await paid_order(world)
    peeking = PeekingWallets(world.repository, order.id)
    advance = AdvanceOrder(
        world.repository,
        world.gateway,
        peeking,
        world.transfers,
        world.scheduler,
        world.clock,
        world.retry_policy,
        world.timings,
    )
    # The transfer fake crashes after its effect: the stored status then shows what was saved.
    world.transfer_faults.script("send", Fault.CRASH_AFTER_EFFECT)
    with pytest.raises(Exception, match="process died"):
        await advance.execute(order.id)
    assert peeking.seen == [OrderStatus.CREATING_WALLET]
    assert (await stored(world, order)).status is OrderStatus.SENDING_TOKEN_TO_SMARTWALLET
    assert len(world.transfers.transfers) == 1


async def test_a_pending_payment_is_rechecked_in_30_seconds(world: InProcessPipeline) -> None:
    order = (await world.create_order.execute(order_request())).order
    await world.advance.execute(order.id)
    assert (await stored(world, order)).status is OrderStatus.PENDING
    assert world.scheduler.jobs == {order.id: world.clock.now() + timedelta(seconds=30)}


@pytest.mark.parametrize("settle", ["fail", "expire"])
async def test_a_failed_or_expired_payment_fails_the_order(
    world: InProcessPipeline, settle: str
) -> None:
    order = (await world.create_order.execute(order_request())).order
    getattr(world.gateway, settle)(order.payment.id)
    await world.advance.execute(order.id)
    failed = await stored(world, order)
    assert failed.status is OrderStatus.FAILED_PAY
    assert failed.payment.status in {"failed", "expired"}
    assert world.transfers.transfers == {}


async def test_a_payment_pending_past_its_expiry_fails(world: InProcessPipeline) -> None:
    order = (await world.create_order.execute(order_request())).order
    assert order.payment.expires_at is not None
    world.clock.set(order.payment.expires_at + world.timings.payment_expiry_grace)
    await world.advance.execute(order.id)
    assert (await stored(world, order)).status is OrderStatus.PENDING  # not yet past the grace
    world.clock.advance(1)
    await world.advance.execute(order.id)
    assert (await stored(world, order)).status is OrderStatus.FAILED_PAY


async def test_an_underpaid_payment_fails_the_order_sends_nothing_and_refunds_it(
    world: InProcessPipeline,
) -> None:
    order = (await world.create_order.execute(order_request())).order
    world.gateway.complete(order.payment.id, amount=Decimal("1.00"))
    await world.advance.execute(order.id)
    failed = await stored(world, order)
    assert failed.status is OrderStatus.FAILED_PAY
    assert any("1.00 EUR paid for 13.10 EUR" in line.reason for line in failed.history)
    assert world.transfers.transfers == {}
    assert failed.refund is not None
    assert failed.refund.status.value == "succeeded"
    (refund,) = world.gateway.refunds.values()
    assert (refund.key, refund.amount) == (f"{order.id}:refund", Decimal("1.00"))


async def test_a_gateway_outage_during_the_check_reschedules(world: InProcessPipeline) -> None:
    order = await paid_order(world)
    world.gateway_faults.script("get_payment", Fault.TIMEOUT)
    await world.advance.execute(order.id)
    assert (await stored(world, order)).status is OrderStatus.PENDING
    assert world.scheduler.jobs[order.id] == world.clock.now() + timedelta(seconds=30)


async def test_a_transient_wallet_failure_backs_off_then_succeeds(world: InProcessPipeline) -> None:
    order = await paid_order(world)
    world.wallet_faults.script("create_wallet", Fault.TRANSIENT)
    await world.advance.execute(order.id)
    failed = await stored(world, order)
    assert failed.status is OrderStatus.CREATE_WALLET_FAIL
    assert not failed.parked
    # attempt 1 failed: ceiling 4 s, half fixed + half of the (rng 0.5) jitter = 3 s
    assert failed.next_attempt_at == world.clock.now() + timedelta(seconds=3)
    assert world.scheduler.jobs[order.id] == failed.next_attempt_at
    # Not due yet: a run changes nothing.
    await world.advance.execute(order.id)
    assert (await stored(world, order)).version == failed.version
    world.clock.advance(3)
    await world.advance.execute(order.id)
    done = await stored(world, order)
    assert done.status is OrderStatus.COMPLETED
    assert done.attempts_of(Step.CREATE_WALLET) == 2


async def test_a_step_failing_past_the_attempt_budget_parks_the_order(
    world: InProcessPipeline,
) -> None:
    order = await paid_order(world)
    world.wallet_faults.script("create_wallet", Fault.TRANSIENT, Fault.TRANSIENT, Fault.TIMEOUT)
    for _ in range(3):
        await world.advance.execute(order.id)
        world.clock.advance(120)
    parked = await stored(world, order)
    assert parked.status is OrderStatus.CREATE_WALLET_FAIL
    assert parked.parked
    assert parked.next_attempt_at is None
    assert await world.repository.due_for_retry(world.clock.now(), 10) == []


async def test_a_permanent_transfer_error_parks_and_an_operator_retry_completes(
    world: InProcessPipeline,
) -> None:
    order = await paid_order(world)
    world.transfer_faults.script("send", Fault.PERMANENT)
    await world.advance.execute(order.id)
    parked = await stored(world, order)
    assert parked.status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL
    assert parked.parked
    assert "slippage_exceeded" in (parked.last_error or "")
    await world.retry_now.execute(reference_id="ref-1")
    await world.run_due_jobs()
    done = await stored(world, order)
    assert done.status is OrderStatus.COMPLETED
    assert len(world.transfers.transfers) == 1


async def test_retrying_a_finished_order_is_refused(world: InProcessPipeline) -> None:
    order = await paid_order(world)
    await world.advance.execute(order.id)
    with pytest.raises(OrderFinished):
        await world.retry_now.execute(order_id=order.id)


async def test_a_lost_transfer_answer_is_reconciled_by_key_not_resent(
    world: InProcessPipeline,
) -> None:
    order = await paid_order(world)
    world.transfer_faults.script("send", Fault.LOST_ANSWER)
    await world.advance.execute(order.id)
    assert (await stored(world, order)).status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL
    world.clock.advance(60)
    await world.advance.execute(order.id)
    assert (await stored(world, order)).status is OrderStatus.COMPLETED
    assert world.transfers.send_calls == 1
    assert world.transfers.lookup_hits == 1
    assert len(world.transfers.transfers) == 1


async def test_a_crash_after_the_transfer_is_resumed_by_the_sweeper(
    world: InProcessPipeline,
) -> None:
    order = await paid_order(world)
    world.transfer_faults.script("send", Fault.CRASH_AFTER_EFFECT)
    await world.handle_notification.execute(order.payment.id)
    await world.run_due_jobs()
    assert world.crashes == 1
    assert (await stored(world, order)).status is OrderStatus.SENDING_TOKEN_TO_SMARTWALLET
    assert await world.resume_stuck.execute() == 0  # within the lease: maybe still running
    world.clock.advance(world.timings.stuck_step_lease.total_seconds() + 1)
    assert await world.resume_stuck.execute() == 1
    await world.run_due_jobs()
    assert (await stored(world, order)).status is OrderStatus.COMPLETED
    assert len(world.transfers.transfers) == 1
    assert world.transfers.lookup_hits == 1


async def test_a_crash_after_the_wallet_is_resumed_with_the_same_key(
    world: InProcessPipeline,
) -> None:
    order = await paid_order(world)
    world.wallet_faults.script("create_wallet", Fault.CRASH_AFTER_EFFECT)
    with pytest.raises(Exception, match="process died"):
        await world.advance.execute(order.id)
    assert (await stored(world, order)).status is OrderStatus.CREATING_WALLET
    world.clock.advance(world.timings.stuck_step_lease.total_seconds() + 1)
    await world.resume_stuck.execute()
    await world.run_due_jobs()
    assert (await stored(world, order)).status is OrderStatus.COMPLETED
    assert world.wallets.calls == [f"{order.id}:create_wallet"] * 2
    assert len(world.wallets.wallets) == 1


async def test_concurrent_runners_on_one_order_make_one_transfer(world: InProcessPipeline) -> None:
    order = await paid_order(world)
    outcomes = await asyncio.gather(*(world.advance.execute(order.id) for _ in range(5)))
    assert (await stored(world, order)).status is OrderStatus.COMPLETED
    assert len(world.transfers.transfers) == 1
    assert sum(o.lost_race for o in outcomes) >= 1


async def test_a_submitted_transfer_is_looked_up_until_confirmed(world: InProcessPipeline) -> None:
    world.transfers.confirm_immediately = False
    order = await paid_order(world)
    await world.advance.execute(order.id)
    waiting = await stored(world, order)
    assert waiting.status is OrderStatus.SENDING_TOKEN_TO_SMARTWALLET
    assert waiting.transfer is not None
    assert waiting.transfer.status == "submitted"
    assert world.scheduler.jobs[order.id] == world.clock.now() + world.timings.transfer_recheck
    world.transfers.confirm_all()
    world.clock.advance(world.timings.transfer_recheck.total_seconds())
    await world.run_due_jobs()
    assert (await stored(world, order)).status is OrderStatus.COMPLETED
    assert world.transfers.send_calls == 1


async def test_the_pending_poll_rotates_through_a_backlog_larger_than_a_batch() -> None:
    world = InProcessPipeline(timings=PipelineTimings(batch_size=2))
    ids = []
    for i in range(3):
        ids.append((await world.create_order.execute(order_request(f"ref-{i}"))).order.id)
        world.clock.advance(1)
    world.clock.advance(30)
    assert await world.poll_pending.execute() == 2
    assert set(world.scheduler.jobs) == {ids[0], ids[1]}  # the two least recently checked
    await world.run_due_jobs()  # both checked: still pending, stamped now
    world.scheduler.jobs.clear()  # forget their own 30 s re-checks: the poll alone must cover
    world.clock.advance(10)  # the two were checked 10 s ago: not due again for another 5 s
    assert await world.poll_pending.execute() == 1
    assert set(world.scheduler.jobs) == {ids[2]}  # the unchecked one is not starved


async def test_an_operator_retry_after_a_lost_answer_looks_the_transfer_up_first(
    world: InProcessPipeline,
) -> None:
    order = await paid_order(world)
    # The transfer is made but its answer lost; the lookups of the next attempts fail too, so the
    # order is parked (3 attempts) with a transfer out there that it has not recorded.
    world.transfer_faults.script("send", Fault.LOST_ANSWER)
    world.transfer_faults.script("find_by_key", Fault.TRANSIENT, Fault.TRANSIENT)
    for _ in range(3):
        await world.advance.execute(order.id)
        world.clock.advance(120)
    assert (await stored(world, order)).parked
    await world.retry_now.execute(order_id=order.id)
    await world.run_due_jobs()
    assert (await stored(world, order)).status is OrderStatus.COMPLETED
    assert world.transfers.send_calls == 1  # found by key, never sent again
    assert world.transfers.lookup_hits == 1
