"""``PaymentIntents`` on MongoDB: collection ``payment_intents``, ``_id`` = the order id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from adapters.mongo.codec import Document, time_from_bson, time_to_bson
from adapters.mongo.errors import translate_errors
from adapters.mongo.schema import PAYMENT_INTENTS
from application.ports import PaymentIntent


class MongoPaymentIntents:
    """One document per order whose payment is being created. ``claim`` is one
    ``findAndModify`` with ``upsert``: it matches the order's intent only when its lease has
    ended (and takes it over), inserts one when there is none, and fails on the unique ``_id``
    when a live one exists, so of racing claimers in any number of processes exactly one wins.
    A TTL index (``adapters.mongo.schema``) removes intents a crash left behind."""

    def __init__(self, database: AsyncDatabase[Any]) -> None:
        self._intents: AsyncCollection[Document] = database[PAYMENT_INTENTS]

    async def claim(
        self, order_id: str, reference_id: str, owner: str, *, now: datetime, lease_until: datetime
    ) -> PaymentIntent | None:
        with translate_errors(f"claim the payment intent of order {order_id}"):
            try:
                document = await self._intents.find_one_and_update(
                    {"_id": order_id, "lease_until": {"$lte": time_to_bson(now)}},
                    {
                        "$set": {
                            "reference_id": reference_id,
                            "owner": owner,
                            "lease_until": time_to_bson(lease_until),
                        },
                        "$inc": {"attempt": 1},
                    },
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                return None  # a live intent: its lease did not match, and the insert collided
        if document is None or document.get("owner") != owner:
            return None
        return PaymentIntent(
            order_id=order_id,
            reference_id=str(document["reference_id"]),
            owner=owner,
            attempt=int(document["attempt"]),
            lease_until=time_from_bson(document["lease_until"]),
        )

    async def release(self, intent: PaymentIntent) -> None:
        with translate_errors(f"release the payment intent of order {intent.order_id}"):
            await self._intents.delete_one({"_id": intent.order_id, "owner": intent.owner})
