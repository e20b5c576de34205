"""The whole pipeline in one process: the service's use-cases over in-process fakes, an
in-memory repository, a fake clock and a recording scheduler that a test (or ``orders-service
simulate``) drains by hand.

Wired here by hand, not by the container (``entrypoints/container.py``): no instrumentation, no
clients, no settings. It shows what the use-cases do, not how production assembles them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from adapters.fakes import (
    FakeClock,
    FakePaymentGateway,
    FakeTokenTransferService,
    FakeWalletService,
    FaultPlan,
    RecordingScheduler,
    SimulatedCrash,
)
from adapters.memory import InMemoryOrderRepository
from application.advance_order import AdvanceOrder
from application.create_order import CreateOrder
from application.get_order import GetOrder
from application.handle_payment_notification import HandlePaymentNotification
from application.policy import OrderRetryPolicy, PipelineTimings
from application.ports import OrderRepository
from application.refund_order import RefundOrder
from application.retry_order_now import RetryOrderNow
from application.retry_transfer import RetryTransfer
from application.sweepers import (
    DriveRefunds,
    PollPendingPayments,
    ResumeStuckOrders,
    RetryFailedOrders,
)

log = logging.getLogger(__name__)


@dataclass
class InProcessPipeline:
    """Fakes, a repository, a recording scheduler and every use-case wired to them; time moves
    only when told (``clock.advance``), jobs run only when drained (:meth:`run_due_jobs`)."""

    repository: OrderRepository = field(default_factory=InMemoryOrderRepository)
    seed: int = 0
    fault_rate: float = 0.0
    retry_policy: OrderRetryPolicy = field(
        default_factory=lambda: OrderRetryPolicy(
            base=timedelta(seconds=5), cap=timedelta(minutes=5), max_attempts=8
        )
    )
    timings: PipelineTimings = field(default_factory=PipelineTimings)

    def __post_init__(self) -> None:
        self.clock = FakeClock()
        self.gateway_faults = FaultPlan(rate=self.fault_rate, seed=self.seed)
        self.wallet_faults = FaultPlan(rate=self.fault_rate, seed=self.seed + 1)
        self.transfer_faults = FaultPlan(rate=self.fault_rate, seed=self.seed + 2)
        self.gateway = FakePaymentGateway(self.clock, self.gateway_faults)
        self.wallets = FakeWalletService(self.wallet_faults)
        self.transfers = FakeTokenTransferService(self.transfer_faults)
        self.scheduler = RecordingScheduler(self.clock)
        repo, clock, sched, timings = self.repository, self.clock, self.scheduler, self.timings
        self.create_order = CreateOrder(repo, self.gateway, clock)
        self.get_order = GetOrder(repo)
        self.handle_notification = HandlePaymentNotification(repo, sched)
        self.advance = AdvanceOrder(
            repo,
            self.gateway,
            self.wallets,
            self.transfers,
            sched,
            clock,
            self.retry_policy,
            timings,
        )
        self.retry_failed = RetryFailedOrders(repo, sched, clock, timings)
        self.poll_pending = PollPendingPayments(repo, sched, clock, timings)
        self.resume_stuck = ResumeStuckOrders(repo, sched, clock, timings)
        self.drive_refunds = DriveRefunds(repo, sched, clock, timings)
        self.retry_now = RetryOrderNow(repo, sched, clock)
        self.refund_order = RefundOrder(repo, self.transfers, sched, clock)
        self.retry_transfer = RetryTransfer(repo, self.transfers, sched, clock)
        self.crashes = 0

    def stop_faults(self) -> None:
        for plan in (self.gateway_faults, self.wallet_faults, self.transfer_faults):
            plan.clear()

    async def run_due_jobs(self) -> int:
        """Run every job due now (jobs they schedule for now run too). A simulated crash ends
        that job with nothing saved after the side effect, as a dying process would."""
        ran = 0
        while due := self.scheduler.pop_due():
            for order_id in due:
                ran += 1
                try:
                    await self.advance.execute(order_id)
                except SimulatedCrash:
                    self.crashes += 1
        return ran

    async def worker_tick(self) -> None:
        """What the worker's crons do each interval."""
        await self.retry_failed.execute()
        await self.poll_pending.execute()
        await self.resume_stuck.execute()
        await self.drive_refunds.execute()
        await self.run_due_jobs()

    async def settle(self, *, max_ticks: int = 500, step_seconds: float = 30.0) -> None:
        """Let time pass tick by tick until nothing is left to do (or ``max_ticks``)."""
        for _ in range(max_ticks):
            await self.worker_tick()
            if not self.scheduler.jobs and not await self._work_left():
                return
            self.clock.advance(step_seconds)

    async def _work_left(self) -> bool:
        lease = self.timings.stuck_step_lease + timedelta(days=3650)
        now = self.clock.now()
        return bool(
            await self.repository.due_for_retry(now + lease, 1)
            or await self.repository.stuck(now + lease, 1)
            or await self.repository.pending_payments(now + lease, 1)
            or await self.repository.refunds_due(now + lease, 1)
        )
