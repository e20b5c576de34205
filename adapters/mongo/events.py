"""The relay's side of MongoDB (ADR 0016): the outbox cue on ``orders`` (``relay_due_at``) and
each subscriber's delivery state in ``event_deliveries`` (``_id`` = ``<subscriber>|<order id>``).
Every write is conditional (compare-and-set) and uses the database's durable write concern."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongo.codec import (
    Document,
    document_to_order,
    time_from_bson,
    time_to_bson,
)
from adapters.mongo.errors import translate_errors
from adapters.mongo.schema import EVENT_DELIVERIES, ORDERS
from application.errors import CorruptDocument
from application.ports import Delivery, StaleDelivery
from domain import Order


def _opt_time(value: datetime | None) -> datetime | None:
    return None if value is None else time_to_bson(value)


def _opt_time_from(value: object) -> datetime | None:
    return None if value is None else time_from_bson(value)


def delivery_id(subscriber: str, order_id: str) -> str:
    return f"{subscriber}|{order_id}"


def _document(delivery: Delivery, version: int) -> Document:
    return {
        "_id": delivery_id(delivery.subscriber, delivery.order_id),
        "subscriber": delivery.subscriber,
        "order_id": delivery.order_id,
        "delivered": delivery.delivered,
        "attempts": delivery.attempts,
        "failing_since": _opt_time(delivery.failing_since),
        "last_error": delivery.last_error,
        "due_at": _opt_time(delivery.due_at),
        "lease_until": _opt_time(delivery.lease_until),
        "dead": list(delivery.dead),
        "gone": list(delivery.gone),
        "version": version,
        "updated_at": _opt_time(delivery.updated_at),
    }


def _delivery(document: Mapping[str, Any]) -> Delivery:
    try:
        return Delivery(
            subscriber=str(document["subscriber"]),
            order_id=str(document["order_id"]),
            delivered=int(document["delivered"]),
            attempts=int(document["attempts"]),
            failing_since=_opt_time_from(document.get("failing_since")),
            last_error=document.get("last_error"),
            due_at=_opt_time_from(document.get("due_at")),
            lease_until=_opt_time_from(document.get("lease_until")),
            dead=tuple(int(s) for s in document.get("dead", [])),
            gone=tuple(int(s) for s in document.get("gone", [])),
            version=int(document["version"]),
            updated_at=_opt_time_from(document.get("updated_at")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptDocument(str(document.get("_id", "<no _id>")), str(exc)) from exc


class MongoEventOutbox:
    """``EventOutbox`` on ``orders``: a save that stores events sets ``relay_due_at`` in the same
    write (the codec); the relay reads due orders and settles them with compare-and-set on
    ``version``, without bumping it."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._orders: AsyncCollection[Document] = database[ORDERS]

    async def due(self, now: datetime, limit: int) -> list[Order]:
        if limit <= 0:
            return []
        query = {"relay_due_at": {"$type": "date", "$lte": time_to_bson(now)}}
        found: list[Order] = []
        with translate_errors("find orders due for the relay"):
            cursor = self._orders.find(query).sort("relay_due_at", 1).limit(limit)
            async for document in cursor:
                found.append(document_to_order(document))
        return found

    async def settle(self, order_id: str, version: int, next_look: datetime | None) -> bool:
        with translate_errors(f"settle relay of order {order_id}"):
            result = await self._orders.update_one(
                {"_id": order_id, "version": version},
                {"$set": {"relay_due_at": _opt_time(next_look)}},
            )
        return result.matched_count == 1


class MongoDeliveryLog:
    """``DeliveryLog`` on ``event_deliveries``: one document per subscriber and order, replaced
    only at the version read (an absent one is inserted; a concurrent insert loses on ``_id``)."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._states: AsyncCollection[Document] = database[EVENT_DELIVERIES]

    async def get(self, subscriber: str, order_id: str) -> Delivery | None:
        with translate_errors(f"read delivery of {order_id} to {subscriber}"):
            document = await self._states.find_one({"_id": delivery_id(subscriber, order_id)})
        return None if document is None else _delivery(document)

    async def put(self, delivery: Delivery, *, expected_version: int) -> Delivery:
        version = expected_version + 1
        document = _document(delivery, version)
        what = f"write delivery of {delivery.order_id} to {delivery.subscriber}"
        with translate_errors(what):
            try:
                if expected_version == 0:
                    await self._states.insert_one(document)
                else:
                    result = await self._states.replace_one(
                        {"_id": document["_id"], "version": expected_version}, document
                    )
                    if result.matched_count == 0:
                        raise StaleDelivery(
                            delivery.subscriber, delivery.order_id, expected_version
                        )
            except DuplicateKeyError as exc:
                raise StaleDelivery(
                    delivery.subscriber, delivery.order_id, expected_version
                ) from exc
        return _delivery(document)

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        if limit <= 0:
            return []
        query = {"due_at": {"$type": "date", "$lte": time_to_bson(now)}}
        with translate_errors("find deliveries due"):
            cursor = self._states.find(query).sort("due_at", 1).limit(limit)
            return [_delivery(d) async for d in cursor]

    async def of_order(self, order_id: str) -> list[Delivery]:
        with translate_errors(f"read deliveries of {order_id}"):
            cursor = self._states.find({"order_id": order_id}).sort("subscriber", 1)
            return [_delivery(d) async for d in cursor]

    async def of_orders(self, order_ids: Sequence[str]) -> list[Delivery]:
        if not order_ids:
            return []
        with translate_errors(f"read deliveries of {len(order_ids)} orders"):
            cursor = self._states.find({"order_id": {"$in": list(order_ids)}})
            return [_delivery(d) async for d in cursor]
