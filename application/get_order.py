"""Read an order and its status."""

from __future__ import annotations

from application.errors import OrderNotFound
from application.ports import OrderRepository
from domain import Order, OrderEvent


class GetOrder:
    """Find an order by its id or by the reference id it was created with."""

    def __init__(self, repository: OrderRepository) -> None:
        self._repository = repository

    async def by_id(self, order_id: str) -> Order:
        order = await self._repository.get(order_id)
        if order is None:
            raise OrderNotFound("id", order_id)
        return order

    async def by_reference_id(self, reference_id: str) -> Order:
        order = await self._repository.get_by_reference_id(reference_id)
        if order is None:
            raise OrderNotFound("reference_id", reference_id)
        return order

    async def events_of(self, order_id: str) -> list[OrderEvent]:
        """Every stored event of the order, oldest first (sequence 1..n)."""
        return (await self.by_id(order_id)).events
