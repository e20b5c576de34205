"""An operator asks for an order to be retried now."""

from __future__ import annotations

from application.errors import OrderFinished, OrderNotFound
from application.ports import Clock, JobScheduler, OrderRepository
from domain import FAIL_STATUSES, Order


class RetryOrderNow:
    """Un-park a failed order (fresh attempt budget) and schedule it at once. An order in any other
    non-terminal status is only nudged; a finished order is refused with ``OrderFinished``. An
    order with a refund: a parked refund is retried (same key), anything else is
    ``OrderFinished``."""

    def __init__(self, repository: OrderRepository, scheduler: JobScheduler, clock: Clock) -> None:
        self._repository = repository
        self._scheduler = scheduler
        self._clock = clock

    async def execute(
        self, *, order_id: str | None = None, reference_id: str | None = None
    ) -> Order:
        if order_id is not None:
            order = await self._repository.get(order_id)
            key, value = "id", order_id
        elif reference_id is not None:
            order = await self._repository.get_by_reference_id(reference_id)
            key, value = "reference_id", reference_id
        else:
            raise ValueError("order_id or reference_id is required")
        if order is None:
            raise OrderNotFound(key, value)
        if order.refund is not None:
            # The fulfilment ended: only a refund that ran out of attempts can be retried.
            if not order.parked or order.refund.is_final:
                raise OrderFinished(order.id, f"refunded ({order.refund.status.value} refund)")
            order.retry_refund(self._clock.now())
            await self._repository.save(order, expected_version=order.version)
            await self._scheduler.schedule_advance(order.id)
            return order
        if order.is_terminal:
            raise OrderFinished(order.id, order.status.value)
        if order.status in FAIL_STATUSES:
            order.unpark(self._clock.now())
            await self._repository.save(order, expected_version=order.version)
        await self._scheduler.schedule_advance(order.id)
        return order
