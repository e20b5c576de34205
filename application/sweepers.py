"""The worker's periodic sweeps. Each finds orders by a query and schedules ``AdvanceOrder``;
the schedule dedupes per order, and compare-and-set settles any race that remains."""

from __future__ import annotations

from application.policy import PipelineTimings
from application.ports import Clock, JobScheduler, OrderRepository


class RetryFailedOrders:
    """Schedule every failed step whose backoff has run out (and that is not parked)."""

    def __init__(
        self,
        repository: OrderRepository,
        scheduler: JobScheduler,
        clock: Clock,
        timings: PipelineTimings,
    ) -> None:
        self._repository = repository
        self._scheduler = scheduler
        self._clock = clock
        self._timings = timings

    async def execute(self) -> int:
        due = await self._repository.due_for_retry(self._clock.now(), self._timings.batch_size)
        for order in due:
            await self._scheduler.schedule_advance(order.id)
        return len(due)


class PollPendingPayments:
    """Re-check every order still waiting for its payment (webhooks get lost); ``AdvanceOrder``
    asks the gateway and expires the payment to ``failed_pay`` past its expiry."""

    def __init__(
        self,
        repository: OrderRepository,
        scheduler: JobScheduler,
        clock: Clock,
        timings: PipelineTimings,
    ) -> None:
        self._repository = repository
        self._scheduler = scheduler
        self._clock = clock
        self._timings = timings

    async def execute(self) -> int:
        pending = await self._repository.pending_payments(
            self._clock.now(), self._timings.batch_size
        )
        for order in pending:
            await self._scheduler.schedule_advance(order.id)
        return len(pending)


class ResumeStuckOrders:
    """Resume orders a crashed runner left mid-step, longer ago than the lease; the step is
    called again with the same idempotency key, so nothing happens twice."""

    def __init__(
        self,
        repository: OrderRepository,
        scheduler: JobScheduler,
        clock: Clock,
        timings: PipelineTimings,
    ) -> None:
        self._repository = repository
        self._scheduler = scheduler
        self._clock = clock
        self._timings = timings

    async def execute(self) -> int:
        cutoff = self._clock.now() - self._timings.stuck_step_lease
        stuck = await self._repository.stuck(cutoff, self._timings.batch_size)
        for order in stuck:
            await self._scheduler.schedule_advance(order.id)
        return len(stuck)
