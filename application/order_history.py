"""What happened to one order: its status history and the gateway's webhook events about it."""

from __future__ import annotations

from dataclasses import dataclass

from application.errors import OrderNotFound
from application.ports import OrderRepository, WebhookEvent, WebhookEventLog
from domain import Order


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """The order as stored (with its history) and every webhook event of its payment."""

    order: Order
    webhook_events: list[WebhookEvent]


class GetOrderHistory:
    """The audit trail an operator reads to see why an order is where it is."""

    def __init__(self, repository: OrderRepository, webhook_log: WebhookEventLog) -> None:
        self._repository = repository
        self._webhook_log = webhook_log

    async def execute(self, order_id: str) -> OrderHistory:
        order = await self._repository.get(order_id)
        if order is None:
            raise OrderNotFound("id", order_id)
        events = await self._webhook_log.for_payment(order.payment.id)
        return OrderHistory(order=order, webhook_events=events)
