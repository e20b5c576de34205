"""``OrderQueries`` on MongoDB: searches served by the indexes in ``adapters.mongo.schema``
(one per single filter, each ending in the sort key and ``_id`` so the sort comes from the index
and a page reads ``limit + 1`` entries), and the figures by aggregation pipelines.

docs/operations.md lists which index serves which filter.
"""

from __future__ import annotations

import inspect
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongo.codec import (
    Document,
    document_to_order,
    money_from_bson,
    money_to_bson,
    time_from_bson,
    time_to_bson,
)
from adapters.mongo.errors import translate_errors
from adapters.mongo.schema import ORDERS
from application.ports.order_queries import (
    OPEN_STATUSES,
    PAID_STATUSES,
    MonthVolume,
    OldestOrder,
    OrderBookFigures,
    OrderFilters,
    OrderPage,
    OrderSort,
    PaidToCompleted,
    Position,
    SortField,
    StatusCounts,
    sort_key_of,
)
from domain import Order, OrderStatus

#: The document field of each sort key.
SORT_FIELDS = {SortField.CREATED_AT: "created_at", SortField.PRICE_FIAT: "request.price_fiat"}
_PAID = sorted(s.value for s in PAID_STATUSES)
_ZERO = Decimal128("0")


def filter_query(filters: OrderFilters) -> dict[str, Any]:
    """The filters as a Mongo query: equality first, ranges after (the indexes' order)."""
    query: dict[str, Any] = {}
    if filters.statuses:
        values = sorted(s.value for s in filters.statuses)
        query["status"] = values[0] if len(values) == 1 else {"$in": values}
    if filters.pool_id is not None:
        query["id_pool"] = filters.pool_id
    if filters.token_symbol is not None:
        query["request.token_symbol"] = filters.token_symbol
    if filters.fiat_currency is not None:
        query["request.fiat_currency"] = filters.fiat_currency
    if filters.parked_only:
        query["parked"] = True
    if filters.refund_status is not None:
        query["refund.status"] = filters.refund_status.value
    created: dict[str, Any] = {}
    if filters.created_from is not None:
        created["$gte"] = time_to_bson(filters.created_from)
    if filters.created_to is not None:
        created["$lt"] = time_to_bson(filters.created_to)
    if created:
        query["created_at"] = created
    price: dict[str, Any] = {}
    if filters.min_price_fiat is not None:
        price["$gte"] = money_to_bson(filters.min_price_fiat)
    if filters.max_price_fiat is not None:
        price["$lte"] = money_to_bson(filters.max_price_fiat)
    if price:
        query["request.price_fiat"] = price
    return query


def after_query(position: Position) -> dict[str, Any]:
    """Strictly after ``position`` in its sort: ``key beyond k, or key = k and _id beyond id``,
    written as a range on the key (which bounds the index scan) plus a tie-break that only the
    entries equal to ``k`` need."""
    field = SORT_FIELDS[position.sort.field]
    key = position.key
    value: Any = money_to_bson(key) if isinstance(key, Decimal) else time_to_bson(key)
    beyond, up_to = ("$lt", "$lte") if position.sort.descending else ("$gt", "$gte")
    return {
        field: {up_to: value},
        "$or": [{field: {beyond: value}}, {"_id": {beyond: position.order_id}}],
    }


def sort_spec(sort: OrderSort) -> list[tuple[str, int]]:
    """The ``sort`` of ``find``: the field, then ``_id`` the same way (one order per position)."""
    direction = DESCENDING if sort.descending else ASCENDING
    return [(SORT_FIELDS[sort.field], direction), ("_id", direction)]


class MongoOrderQueries:
    """Reads ``orders`` without ever writing; every search is ``find + sort + limit`` on an index
    whose keys are the filter's field, the sort key and ``_id``."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._orders: AsyncCollection[Document] = database[ORDERS]

    async def search(
        self, filters: OrderFilters, sort: OrderSort, after: Position | None, limit: int
    ) -> OrderPage:
        query = filter_query(filters)
        if after is not None:
            query = {"$and": [query, after_query(after)]} if query else after_query(after)
        with translate_errors("search orders"):
            cursor = self._orders.find(query).sort(sort_spec(sort)).limit(limit + 1)
            documents = [document async for document in cursor]
        orders = [document_to_order(d) for d in documents[:limit]]
        following = None
        if len(documents) > limit and orders:
            last = orders[-1]
            following = Position(sort, sort_key_of(last, sort), last.id)
        return OrderPage(orders=orders, next_position=following)

    async def _aggregate(self, pipeline: list[dict[str, Any]], what: str) -> list[Document]:
        with translate_errors(what):
            # PyMongo Async's ``aggregate`` is a coroutine that gives the cursor; Motor's gives
            # the cursor itself. Both cursors iterate the same way.
            cursor: Any = self._orders.aggregate(pipeline, allowDiskUse=True)
            if inspect.isawaitable(cursor):
                cursor = await cursor
            return [document async for document in cursor]

    async def _counts(self) -> StatusCounts:
        rows = await self._aggregate(
            [{"$group": {"_id": {"s": "$status", "p": "$parked"}, "n": {"$sum": 1}}}],
            "count orders per status",
        )
        by_status: dict[OrderStatus, int] = {}
        parked = 0
        for row in rows:
            status = OrderStatus(row["_id"]["s"])
            by_status[status] = by_status.get(status, 0) + int(row["n"])
            if row["_id"].get("p") is True:
                parked += int(row["n"])
        return StatusCounts(by_status=by_status, parked=parked)

    async def _months(self) -> list[MonthVolume]:
        is_paid = {"$in": ["$status", _PAID]}
        rows = await self._aggregate(
            [
                {
                    "$group": {
                        "_id": {
                            "m": {"$dateToString": {"format": "%Y-%m", "date": "$created_at"}},
                            "c": "$request.fiat_currency",
                        },
                        "n": {"$sum": 1},
                        "paid": {"$sum": {"$cond": [is_paid, 1, 0]}},
                        "volume": {"$sum": {"$cond": [is_paid, "$request.price_fiat", _ZERO]}},
                    }
                },
                {"$sort": {"_id.m": 1, "_id.c": 1}},
            ],
            "orders per month",
        )
        return [
            MonthVolume(
                month=str(row["_id"]["m"]),
                currency=str(row["_id"]["c"]),
                orders=int(row["n"]),
                paid_orders=int(row["paid"]),
                paid_volume=money_from_bson(row["volume"]),
            )
            for row in rows
        ]

    async def _paid_to_completed(self) -> PaidToCompleted:
        def at_of(status: OrderStatus, index: int) -> dict[str, Any]:
            lines = {
                "$filter": {
                    "input": "$history",
                    "as": "h",
                    "cond": {"$eq": ["$$h.status", status.value]},
                }
            }
            return {"$arrayElemAt": [lines, index]}

        durations: list[dict[str, Any]] = [
            {"$match": {"status": OrderStatus.COMPLETED.value}},
            {
                "$project": {
                    "paid": at_of(OrderStatus.COMPLETED_PAY, 0),
                    "done": at_of(OrderStatus.COMPLETED, -1),
                }
            },
            {"$project": {"ms": {"$subtract": ["$done.at", "$paid.at"]}}},
            {"$match": {"ms": {"$type": "number"}}},
        ]
        totals = await self._aggregate(
            [*durations, {"$group": {"_id": None, "n": {"$sum": 1}, "total": {"$sum": "$ms"}}}],
            "paid to completed times",
        )
        if not totals or not totals[0]["n"]:
            return PaidToCompleted()
        count, total = int(totals[0]["n"]), int(totals[0]["total"])
        # Nearest rank: the ceil(0.95 n)-th smallest, as the in-memory reading computes it.
        rank = max(-(-95 * count // 100), 1)
        ranked = await self._aggregate(
            [*durations, {"$sort": {"ms": 1}}, {"$skip": rank - 1}, {"$limit": 1}],
            "paid to completed p95",
        )
        p95 = int(ranked[0]["ms"]) if ranked else None
        return PaidToCompleted(count=count, total_ms=total, p95_ms=p95)

    async def figures(self) -> OrderBookFigures:
        return OrderBookFigures(
            counts=await self._counts(),
            months=await self._months(),
            paid_to_completed=await self._paid_to_completed(),
            oldest=await self.oldest_open(),
        )

    async def oldest_open(self) -> dict[OrderStatus, OldestOrder]:
        oldest: dict[OrderStatus, OldestOrder] = {}
        projection = {"reference_id": 1, "created_at": 1}
        for status in OPEN_STATUSES:
            # status_1_created_at_-1__id_-1, read backwards: one index entry per status.
            with translate_errors(f"oldest {status.value} order"):
                document = await self._orders.find_one(
                    {"status": status.value},
                    projection,
                    sort=[("created_at", ASCENDING), ("_id", ASCENDING)],
                )
            if document is not None:
                oldest[status] = OldestOrder(
                    status=status,
                    order_id=str(document["_id"]),
                    reference_id=str(document["reference_id"]),
                    created_at=time_from_bson(document["created_at"]),
                )
        return oldest

    async def active_between(self, start: datetime, end: datetime, limit: int) -> list[Order]:
        if limit <= 0:
            return []
        query = {
            "created_at": {"$lt": time_to_bson(end)},
            "updated_at": {"$gte": time_to_bson(start)},
        }
        with translate_errors("find orders of a period"):
            cursor = self._orders.find(query).sort([("created_at", 1), ("_id", 1)]).limit(limit)
            return [document_to_order(d) async for d in cursor]

    async def parked_count(self) -> int:
        with translate_errors("count parked orders"):
            return int(await self._orders.count_documents({"parked": True}))
