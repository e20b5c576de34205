"""A payment webhook arrived: find its order and have it advanced."""

from __future__ import annotations

from application.errors import PaymentNotFound
from application.ports import JobScheduler, OrderRepository
from domain import Order, OrderStatus


class HandlePaymentNotification:
    """The webhook body is only a hint: this finds the order (unknown payment: ``PaymentNotFound``)
    and schedules ``AdvanceOrder``, which asks the gateway for the real status (also for a
    ``failed_pay`` order not yet refunded: a payment can complete late)."""

    def __init__(self, repository: OrderRepository, scheduler: JobScheduler) -> None:
        self._repository = repository
        self._scheduler = scheduler

    async def execute(self, payment_id: str) -> Order:
        order = await self._repository.get_by_payment_id(payment_id)
        if order is None:
            raise PaymentNotFound(payment_id)
        # A failed_pay order without a refund is looked at too: its payment may have completed
        # late (AdvanceOrder then refunds it).
        late = order.status is OrderStatus.FAILED_PAY and order.refund is None
        if not order.is_terminal or late:
            await self._scheduler.schedule_advance(order.id)
        return order
