"""``OrderRepository`` on MongoDB: one document per order in ``orders``, ``_id`` = order id."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, WriteError

from adapters.mongo.codec import (
    Document,
    document_to_order,
    order_to_document,
    time_to_bson,
)
from adapters.mongo.errors import (
    DOCUMENT_VALIDATION_FAILURE,
    duplicate_key,
    rejected,
    translate_errors,
)
from adapters.mongo.schema import ORDERS
from application.errors import InfrastructureUnavailable, StaleOrder
from application.ports import relay_cue
from domain import FAIL_STATUSES, RESUMABLE_STATUSES, Order, OrderStatus

_RESUMABLE = tuple(sorted(s.value for s in RESUMABLE_STATUSES))
_FAILED = tuple(sorted(s.value for s in FAIL_STATUSES))


#: How long the readiness ping waits for the server.
PING_TIMEOUT_SECONDS = 2.0


class MongoOrderRepository:
    """Orders in MongoDB, on the async collection API PyMongo and Motor share.

    ``save`` is one conditional ``replace_one`` on ``_id`` + ``version`` (plus the two keys that
    never change), so a status change is all-or-nothing and a stale writer loses. The order's
    events live in the same document (``events``, the outbox of ADR 0013): stored by the same
    write as the change they describe, or not at all. Indexes and the
    validator come from ``ensure_schema`` (``adapters.mongo.schema``), run at startup / db-init.
    """

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._orders: AsyncCollection[Document] = database[ORDERS]

    async def add(self, order: Order) -> None:
        document = order_to_document(order)
        with translate_errors(f"add order {order.id}"):
            try:
                await self._orders.insert_one(document)
            except DuplicateKeyError as exc:
                raise duplicate_key(exc, document) from exc
            except WriteError as exc:
                if exc.code == DOCUMENT_VALIDATION_FAILURE:
                    raise rejected(exc, order.id) from exc
                raise
        order.relay_due_at = relay_cue(order)
        order.events_stored()

    async def _find_one(self, query: dict[str, Any], what: str) -> Order | None:
        with translate_errors(f"read order by {what}"):
            document = await self._orders.find_one(query)
        return None if document is None else document_to_order(document)

    async def get(self, order_id: str) -> Order | None:
        return await self._find_one({"_id": order_id}, "id")

    async def get_by_reference_id(self, reference_id: str) -> Order | None:
        return await self._find_one({"reference_id": reference_id}, "reference id")

    async def get_by_payment_id(self, payment_id: str) -> Order | None:
        # The partial index's own filter spelled out, so any planner can prove the index covers
        # the query (equality alone implies ``$exists``, but not every planner derives ``$type``).
        query = {"payment.id": {"$eq": payment_id, "$exists": True, "$type": "string"}}
        return await self._find_one(query, "payment id")

    async def save(self, order: Order, *, expected_version: int) -> None:
        document = order_to_document(order)
        document["version"] = expected_version + 1
        # Compare-and-set: one write, matched only by the version that was read. The keys that
        # never change are in the filter too, so a changed one cannot slip through.
        condition = {
            "_id": order.id,
            "version": expected_version,
            "reference_id": order.reference_id,
            "payment.id": order.payment.id,
        }
        with translate_errors(f"save order {order.id}"):
            try:
                result = await self._orders.replace_one(condition, document)
            except DuplicateKeyError as exc:
                raise duplicate_key(exc, document) from exc
            except WriteError as exc:
                if exc.code == DOCUMENT_VALIDATION_FAILURE:
                    raise rejected(exc, order.id) from exc
                raise
            if result.matched_count == 0:
                await self._explain_miss(order, expected_version)
        order.version = expected_version + 1
        order.relay_due_at = relay_cue(order)
        order.events_stored()

    async def _explain_miss(self, order: Order, expected_version: int) -> None:
        """Nothing matched: a newer version (the usual race) or a key the caller changed."""
        stored = await self._orders.find_one(
            {"_id": order.id}, {"version": 1, "reference_id": 1, "payment.id": 1}
        )
        if (
            stored is not None
            and stored.get("version") == expected_version
            and (
                stored.get("reference_id") != order.reference_id
                or stored.get("payment", {}).get("id") != order.payment.id
            )
        ):
            raise ValueError(f"order {order.id}: reference id and payment id never change")
        raise StaleOrder(order.id, expected_version)

    async def _select(self, query: dict[str, Any], limit: int, what: str) -> list[Order]:
        if limit <= 0:
            return []  # Mongo reads limit 0 as "no limit"
        found: list[Order] = []
        with translate_errors(what):
            cursor = self._orders.find(query).sort("updated_at", 1).limit(limit)
            async for document in cursor:
                # A document that does not decode raises, naming its id: never skipped silently.
                found.append(document_to_order(document))
        return found

    async def due_for_retry(self, now: datetime, limit: int) -> list[Order]:
        query = {
            "status": {"$in": list(_FAILED)},
            "parked": False,
            "refund": None,
            "$or": [{"next_attempt_at": None}, {"next_attempt_at": {"$lte": time_to_bson(now)}}],
        }
        return await self._select(query, limit, "find orders due for retry")

    async def refunds_due(self, now: datetime, limit: int) -> list[Order]:
        # Only open refunds carry a date here: final and parked ones hold null.
        query = {
            "parked": False,
            "refund.next_attempt_at": {"$lte": time_to_bson(now)},
        }
        return await self._select(query, limit, "find refunds due")

    async def pending_payments(self, updated_before: datetime, limit: int) -> list[Order]:
        query = {
            "status": OrderStatus.PENDING.value,
            "updated_at": {"$lte": time_to_bson(updated_before)},
        }
        return await self._select(query, limit, "find pending payments")

    async def stuck(self, updated_before: datetime, limit: int) -> list[Order]:
        query = {
            "status": {"$in": list(_RESUMABLE)},
            "parked": False,
            "updated_at": {"$lte": time_to_bson(updated_before)},
        }
        return await self._select(query, limit, "find stuck orders")

    async def ping(self) -> None:
        # A readiness probe must answer within its own deadline (compose waits 3 s), whatever
        # server selection timeout MONGODB_URI sets (the default gives up after 1-1.5 s).
        with translate_errors("ping"):
            try:
                await asyncio.wait_for(self._orders.database.command("ping"), PING_TIMEOUT_SECONDS)
            except TimeoutError as exc:
                raise InfrastructureUnavailable(
                    "mongodb", f"ping: no answer within {PING_TIMEOUT_SECONDS} s"
                ) from exc
