"""The worker's periodic sweeps. Each finds orders by a query and schedules ``AdvanceOrder``;
the schedule dedupes per order, and compare-and-set settles any race that remains."""

from __future__ import annotations

from application.policy import PipelineTimings
from application.ports import Clock, JobScheduler, OrderRepository
from domain import Order


class _Sweep:
    """Find orders (``_find``), schedule each; ``execute`` returns how many were scheduled."""

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

    async def _find(self) -> list[Order]:
        raise NotImplementedError

    async def execute(self) -> int:
        found = await self._find()
        for order in found:
            await self._scheduler.schedule_advance(order.id)
        return len(found)


class RetryFailedOrders(_Sweep):
    """Schedule every failed step whose backoff has run out (and that is not parked)."""

    async def _find(self) -> list[Order]:
        return await self._repository.due_for_retry(self._clock.now(), self._timings.batch_size)


class PollPendingPayments(_Sweep):
    """Re-check every order still waiting for its payment (webhooks get lost); ``AdvanceOrder``
    asks the gateway and expires the payment to ``failed_pay`` past its expiry."""

    async def _find(self) -> list[Order]:
        # Each check stamps the order, so the longest-unchecked come first and a backlog larger
        # than one batch rotates instead of starving the newest orders.
        checked_before = self._clock.now() - self._timings.payment_recheck / 2
        return await self._repository.pending_payments(checked_before, self._timings.batch_size)


class ResumeStuckOrders(_Sweep):
    """Resume orders a crashed runner left mid-step, longer ago than the lease; the step is
    called again with the same idempotency key, so nothing happens twice."""

    async def _find(self) -> list[Order]:
        cutoff = self._clock.now() - self._timings.stuck_step_lease
        return await self._repository.stuck(cutoff, self._timings.batch_size)


class DriveRefunds(_Sweep):
    """Schedule every open refund that is due: a first call, a retry after backoff, a lookup of
    a pending one, or a call a crashed runner left unanswered (replayed under the same key)."""

    async def _find(self) -> list[Order]:
        return await self._repository.refunds_due(self._clock.now(), self._timings.batch_size)
