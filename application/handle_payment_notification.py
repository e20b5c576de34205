"""A payment webhook arrived: find its order and have it advanced."""

from __future__ import annotations

from application.errors import PaymentNotFound
from application.ports import JobScheduler, OrderRepository
from domain import Order


class HandlePaymentNotification:
    """The webhook body is only a hint: this finds the order (unknown payment: ``PaymentNotFound``)
    and schedules ``AdvanceOrder``, which asks the gateway for the real status."""

    def __init__(self, repository: OrderRepository, scheduler: JobScheduler) -> None:
        self._repository = repository
        self._scheduler = scheduler

    async def execute(self, payment_id: str) -> Order:
        order = await self._repository.get_by_payment_id(payment_id)
        if order is None:
            raise PaymentNotFound(payment_id)
        if not order.is_terminal:
            await self._scheduler.schedule_advance(order.id)
        return order
