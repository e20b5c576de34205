"""A buyer (or a guest with its client secret) reads one of their orders."""

from __future__ import annotations

from application.buyers import Caller, can_see
from application.errors import OrderNotFound
from application.ports import OrderRepository
from domain import Order, OrderEvent


class ReadOwnOrder:
    """Find an order by id or reference id, for a caller who may see it: another buyer's order
    is ``OrderNotFound``, exactly as an order that does not exist."""

    def __init__(self, repository: OrderRepository) -> None:
        self._repository = repository

    async def by_id(self, order_id: str, caller: Caller) -> Order:
        order = await self._repository.get(order_id)
        if order is None or not can_see(order, caller):
            raise OrderNotFound("id", order_id)
        return order

    async def by_reference_id(self, reference_id: str, caller: Caller) -> Order:
        order = await self._repository.get_by_reference_id(reference_id)
        if order is None or not can_see(order, caller):
            raise OrderNotFound("reference_id", reference_id)
        return order

    async def events_of(self, order_id: str, caller: Caller) -> list[OrderEvent]:
        """Every stored event of the caller's order, oldest first (sequence 1..n)."""
        return (await self.by_id(order_id, caller)).events
