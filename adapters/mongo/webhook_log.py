"""``WebhookEventLog`` on MongoDB: collection ``webhook_events``, ``_id`` = the event id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson.binary import Binary
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongo.codec import Document, time_from_bson, time_to_bson
from adapters.mongo.errors import translate_errors
from adapters.mongo.schema import WEBHOOK_EVENTS
from application.errors import CorruptDocument
from application.ports import WebhookEvent


def _decode(document: Mapping[str, Any]) -> WebhookEvent:
    try:
        raw = document["raw_payload"]
        return WebhookEvent(
            event_id=str(document["_id"]),
            payment_id=document.get("payment_id"),
            raw_payload=bytes(raw),
            received_at=time_from_bson(document["received_at"]),
            outcome=str(document["outcome"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptDocument(str(document.get("_id", "<no _id>")), str(exc)) from exc


class MongoWebhookEventLog:
    """One document per gateway event. The event id is the ``_id``, whose index is unique, so
    "record once" is a single insert: the second insert of an id fails with 11000 -> False."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._events: AsyncCollection[Document] = database[WEBHOOK_EVENTS]

    async def record(self, event: WebhookEvent) -> bool:
        document = {
            "_id": event.event_id,
            "payment_id": event.payment_id,
            "raw_payload": Binary(event.raw_payload),
            "received_at": time_to_bson(event.received_at),
            "outcome": event.outcome,
        }
        with translate_errors(f"record webhook event {event.event_id}"):
            try:
                await self._events.insert_one(document)
            except DuplicateKeyError:
                return False
        return True

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        with translate_errors(f"set outcome of webhook event {event_id}"):
            await self._events.update_one({"_id": event_id}, {"$set": {"outcome": outcome}})

    async def get(self, event_id: str) -> WebhookEvent | None:
        with translate_errors(f"read webhook event {event_id}"):
            document = await self._events.find_one({"_id": event_id})
        return None if document is None else _decode(document)

    async def for_payment(self, payment_id: str) -> list[WebhookEvent]:
        with translate_errors(f"read webhook events of payment {payment_id}"):
            cursor = self._events.find({"payment_id": payment_id}).sort(
                [("received_at", 1), ("_id", 1)]
            )
            return [_decode(document) async for document in cursor]
