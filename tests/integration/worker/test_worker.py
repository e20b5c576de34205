"""A real SAQ worker on real Redis, built from the container with the in-memory repository and
the fakes: orders go from paid to completed, retries and sweeps run, shutdown loses nothing."""

from __future__ import annotations

from saq.job import Status
from saq.queue.redis import RedisQueue

from adapters.fakes import Fault
from adapters.saq import SaqJobScheduler, job_key
from domain import OrderStatus, Step
from entrypoints.settings import Settings
from tests.support.worker import (
    FAST_SWEEPS,
    Downstream,
    eventually,
    long_ago,
    running_worker,
)


async def test_a_paid_order_is_completed_by_the_worker(
    settings: Settings,
    queue_name: str,
    queue: RedisQueue,
    downstream: Downstream,
    scheduler: SaqJobScheduler,
) -> None:
    orders = [await downstream.paid_order(f"paid-{i}") for i in range(5)]
    async with running_worker(settings, queue_name, downstream):
        for order in orders:
            for _ in range(3):  # duplicate webhooks
                await scheduler.schedule_advance(order.id)
        done = [await downstream.wait_for(order.id, OrderStatus.COMPLETED) for order in orders]

    assert len(downstream.transfers.transfers) == 5
    for order in done:
        sent = downstream.transfers.transfers[order.idempotency_key(Step.SEND_TOKEN)]
        assert sent.request.destination == order.smart_wallet_address
        assert sent.request.amount == order.amount_token
    job = await queue.job(job_key(orders[0].id))
    assert job is not None
    assert job.status is Status.COMPLETE
    assert job.result == "completed"


async def test_a_retry_the_job_schedules_for_itself_really_runs(
    settings: Settings,
    queue_name: str,
    queue: RedisQueue,
    downstream: Downstream,
    scheduler: SaqJobScheduler,
) -> None:
    # The sweeps never fire here: only the job's own scheduled retry can finish the order.
    order = await downstream.paid_order("retried")
    downstream.wallets.faults.script("create_wallet", Fault.TRANSIENT)
    async with running_worker(settings, queue_name, downstream):
        await scheduler.schedule_advance(order.id)
        done = await downstream.wait_for(order.id, OrderStatus.COMPLETED, within=8)

    assert len(downstream.wallets.calls) == 2
    statuses = [change.status for change in done.history]
    assert OrderStatus.CREATE_WALLET_FAIL in statuses
    assert done.attempts_of(Step.CREATE_WALLET) == 2


async def test_a_pending_payment_is_rechecked_until_it_is_paid(
    settings: Settings,
    queue_name: str,
    queue: RedisQueue,
    downstream: Downstream,
    scheduler: SaqJobScheduler,
) -> None:
    # The job finds the payment pending and asks for a re-check (no sweeps run): the re-check
    # after the buyer paid completes the order without a second webhook.
    order = await downstream.pending_order("recheck")
    async with running_worker(settings, queue_name, downstream):
        await scheduler.schedule_advance(order.id)
        await eventually(lambda: downstream.gateway.status_calls > 0)
        downstream.gateway.complete(order.payment.id)
        await downstream.wait_for(order.id, OrderStatus.COMPLETED, within=8)
    assert downstream.gateway.status_calls >= 2


async def test_the_sweeper_crons_pick_up_orders_nobody_enqueued(
    settings: Settings, queue_name: str, queue: RedisQueue, downstream: Downstream
) -> None:
    # A lost webhook: paid at the gateway, still pending here.
    lost_webhook = await downstream.paid_order("lost-webhook")
    # A failed step whose backoff has run out, with no job queued for it.
    due_retry = await downstream.paid_order("due-retry")
    due_retry.mark_paid(long_ago())
    due_retry.start_step(Step.CREATE_WALLET, long_ago())
    due_retry.step_failed(long_ago(), "503 (earlier)", retry_at=long_ago(20))
    await downstream.repository.save(due_retry, expected_version=due_retry.version)
    # A worker died mid-step long ago (past the 1 s lease).
    stuck = await downstream.paid_order("stuck")
    stuck.mark_paid(long_ago())
    stuck.start_step(Step.CREATE_WALLET, long_ago())
    await downstream.repository.save(stuck, expected_version=stuck.version)

    async with running_worker(settings, queue_name, downstream, crons=FAST_SWEEPS):
        for order in (lost_webhook, due_retry, stuck):
            await downstream.wait_for(order.id, OrderStatus.COMPLETED, within=8)

    assert len(downstream.transfers.transfers) == 3


async def test_on_stop_the_job_in_flight_finishes(
    settings: Settings,
    queue_name: str,
    queue: RedisQueue,
    scheduler: SaqJobScheduler,
) -> None:
    downstream = Downstream(wallet_delay=0.5)
    order = await downstream.paid_order("in-flight")
    async with running_worker(settings, queue_name, downstream, grace_seconds=5):
        await scheduler.schedule_advance(order.id)
        await downstream.wait_for(order.id, OrderStatus.CREATING_WALLET)
    # The worker has stopped; the order was finished before it did.
    assert await downstream.status_of(order.id) is OrderStatus.COMPLETED
    assert len(downstream.transfers.transfers) == 1


async def test_a_job_cut_off_by_the_grace_period_is_rerun_by_the_next_worker(
    settings: Settings,
    queue_name: str,
    queue: RedisQueue,
    scheduler: SaqJobScheduler,
) -> None:
    downstream = Downstream(wallet_delay=2.0)
    order = await downstream.paid_order("cut-off")
    async with running_worker(settings, queue_name, downstream, grace_seconds=0.1):
        await scheduler.schedule_advance(order.id)
        await downstream.wait_for(order.id, OrderStatus.CREATING_WALLET)
    assert await downstream.status_of(order.id) is OrderStatus.CREATING_WALLET
    job = await queue.job(job_key(order.id))
    assert job is not None
    assert job.status is Status.QUEUED

    downstream.wallet_delay = 0.0
    async with running_worker(settings, queue_name, downstream):
        done = await downstream.wait_for(order.id, OrderStatus.COMPLETED)
    assert done.attempts_of(Step.CREATE_WALLET) == 1  # the same attempt, resumed
    assert len(downstream.wallets.wallets) == 1
    assert len(downstream.transfers.transfers) == 1
