"""A buyer lists their own orders, newest first, a page at a time."""

from __future__ import annotations

from datetime import datetime

from application.buyers import Caller
from application.errors import InvalidQuery
from application.ports.order_queries import OrderFilters, OrderSort
from application.search_orders import SearchOrders, SearchResult
from domain import OrderStatus


class ListOwnOrders:
    """The caller's orders, newest first (creation time, then id), filtered by status and a
    creation-time range: the operator's search narrowed to one buyer, served by the
    ``(buyer_id, created_at, _id)`` index. A guest has no list (``InvalidQuery`` never: the edge
    refuses a guest before)."""

    def __init__(self, search: SearchOrders) -> None:
        self._search = search

    async def execute(
        self,
        caller: Caller,
        *,
        statuses: frozenset[OrderStatus] = frozenset(),
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> SearchResult:
        if caller.buyer_id is None:
            raise InvalidQuery("authorization", "listing orders needs a buyer's token")
        filters = OrderFilters(
            statuses=statuses,
            created_from=created_from,
            created_to=created_to,
            buyer_id=caller.buyer_id,
        )
        return await self._search.execute(filters, OrderSort(), cursor=cursor, limit=limit)
