"""The ``orders``, ``webhook_events`` and ``payment_intents`` collections: validator and
indexes, ensured idempotently and never destructively.

``ensure_schema(db)`` creates what is missing, updates an older ``orders`` validator in place
with ``collMod`` and reports what it changed; a second run reports "up to date". It never drops a
collection or an index: an index whose keys match ours but whose options differ is reported as
a conflict for a person to resolve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure

from adapters.mongo.errors import translate_errors
from domain import EventType, OrderStatus

ORDERS = "orders"
WEBHOOK_EVENTS = "webhook_events"
#: Creates in progress at a gateway without idempotency keys (``MongoPaymentIntents``).
PAYMENT_INTENTS = "payment_intents"
#: Each subscriber's delivery state per order (ADR 0016).
EVENT_DELIVERIES = "event_deliveries"

Keys = tuple[tuple[str, int | str], ...]


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """One index: its keys in order, its name and its options (unique, partial filter)."""

    collection: str
    keys: Keys
    name: str
    unique: bool = False
    partial_filter: Mapping[str, Any] | None = None
    #: A TTL index: MongoDB deletes a document this many seconds after its (date) key.
    expire_after_seconds: int | None = None

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"name": self.name}
        if self.unique:
            opts["unique"] = True
        if self.partial_filter is not None:
            opts["partialFilterExpression"] = dict(self.partial_filter)
        if self.expire_after_seconds is not None:
            opts["expireAfterSeconds"] = self.expire_after_seconds
        return opts


_PAYMENT_ID_IS_STRING = {"payment.id": {"$exists": True, "$type": "string"}}

#: The four original indexes (keys and options exactly as first declared; the names are MongoDB's
#: defaults so one already built is recognised, not built twice), then the two the worker's sweeps
#: need.
ORDER_INDEXES: tuple[IndexSpec, ...] = (
    # CreateOrder's idempotency: one order per reference id.
    IndexSpec(ORDERS, (("reference_id", ASCENDING),), "reference_id_1", unique=True),
    # Listing orders by status, newest first (admin views, reports).
    IndexSpec(
        ORDERS, (("status", ASCENDING), ("created_at", DESCENDING)), "status_1_created_at_-1"
    ),
    # Webhooks find their order by payment id; one order per payment. Partial so orders whose
    # payment id is not (yet) a string never collide on a shared null.
    IndexSpec(
        ORDERS,
        (("payment.id", ASCENDING),),
        "payment.id_1",
        unique=True,
        partial_filter=_PAYMENT_ID_IS_STRING,
    ),
    # Orders of one pool, newest first.
    IndexSpec(
        ORDERS, (("id_pool", ASCENDING), ("created_at", DESCENDING)), "id_pool_1_created_at_-1"
    ),
    # Worker: PollPendingPayments and ResumeStuckOrders select by status (equality / $in) and
    # ``updated_at <= cutoff``, oldest first: equality, then range and sort on the same field.
    IndexSpec(ORDERS, (("status", ASCENDING), ("updated_at", ASCENDING)), "status_1_updated_at_1"),
    # Worker: RetryFailedOrders selects failed, not parked orders with ``next_attempt_at <= now``.
    # Partial on ``parked: false`` so parked orders, which pile up in the fail statuses until a
    # person looks, are not even in the index the sweep scans every few seconds.
    IndexSpec(
        ORDERS,
        (("status", ASCENDING), ("next_attempt_at", ASCENDING)),
        "retry_due",
        partial_filter={"parked": False},
    ),
    # Worker: DriveRefunds selects open refunds with ``refund.next_attempt_at <= now``.
    IndexSpec(
        ORDERS,
        (("refund.next_attempt_at", ASCENDING),),
        "refund_due",
        partial_filter={"parked": False},
    ),
    # Admin search (adapters/mongo/queries.py): one index per single filter, each ending in the
    # sort key and ``_id``, so a page is read in index order (no in-memory sort) and the cursor's
    # tie-break on ``_id`` is served too. Read backwards for ascending sorts.
    IndexSpec(ORDERS, (("created_at", DESCENDING), ("_id", DESCENDING)), "admin_created"),
    # A price range with the default sort: the price after the sort keys (equality-sort-range),
    # so the range is checked on index keys, no document fetched for an order outside it. On a
    # mongod ``admin_created`` is its prefix and could go; SecantusDB's planner reads an index
    # for a sort only when its keys are the sort's, so the dev and test server needs it.
    IndexSpec(
        ORDERS,
        (("created_at", DESCENDING), ("_id", DESCENDING), ("request.price_fiat", DESCENDING)),
        "admin_created_price",
    ),
    IndexSpec(
        ORDERS,
        (("status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
        "admin_status_created",
    ),
    IndexSpec(
        ORDERS,
        (("id_pool", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
        "admin_pool_created",
    ),
    IndexSpec(
        ORDERS,
        (("request.token_symbol", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
        "admin_token_created",
    ),
    IndexSpec(
        ORDERS,
        (("request.fiat_currency", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
        "admin_currency_created",
    ),
    # Orders whose refund is in a status (``?refund=failed``: what a person must settle by hand).
    # Not partial on ``refund.status`` existing: SecantusDB's planner does not see that an
    # equality implies it, and scans the collection instead.
    IndexSpec(
        ORDERS,
        (("refund.status", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
        "admin_refund_created",
    ),
    # Amount range and the price sort.
    IndexSpec(ORDERS, (("request.price_fiat", DESCENDING), ("_id", DESCENDING)), "admin_price"),
    # Parked orders only: few, so a partial index holds just them (and counts them for /metrics).
    IndexSpec(
        ORDERS,
        (("parked", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)),
        "admin_parked_created",
        partial_filter={"parked": True},
    ),
    # The event relay (ADR 0016): orders whose stored events it has not looked at yet. Partial:
    # only those orders are in it, however many orders are done.
    IndexSpec(
        ORDERS,
        (("relay_due_at", ASCENDING),),
        "relay_due",
        partial_filter={"relay_due_at": {"$type": "date"}},
    ),
)

DELIVERY_INDEXES: tuple[IndexSpec, ...] = (
    # States due for a retry, a redelivery or a lease run out; only those are in it.
    IndexSpec(
        EVENT_DELIVERIES,
        (("due_at", ASCENDING),),
        "delivery_due",
        partial_filter={"due_at": {"$type": "date"}},
    ),
    # The admin's view of one order's deliveries.
    IndexSpec(EVENT_DELIVERIES, (("order_id", ASCENDING),), "order_id_1"),
)

WEBHOOK_INDEXES: tuple[IndexSpec, ...] = (
    # Events are keyed by ``_id`` (the gateway's event id, unique by construction); this one
    # serves ``for_payment``, oldest first.
    IndexSpec(
        WEBHOOK_EVENTS,
        (("payment_id", ASCENDING), ("received_at", ASCENDING)),
        "payment_id_1_received_at_1",
    ),
)

#: An intent is removed by the create that took it; one a crash left behind is taken over by
#: the next create once its lease ends, and removed by MongoDB a day after that.
INTENT_INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(
        PAYMENT_INTENTS,
        (("lease_until", ASCENDING),),
        "lease_until_ttl",
        expire_after_seconds=86_400,
    ),
)

INDEXES = ORDER_INDEXES + WEBHOOK_INDEXES + DELIVERY_INDEXES + INTENT_INDEXES

#: ``WEBHOOK_EVENT_RETENTION_DAYS``'s default.
DEFAULT_WEBHOOK_RETENTION_DAYS = 90
WEBHOOK_RETENTION_INDEX = "received_at_ttl"
_DAY_SECONDS = 86_400


def webhook_retention_index(days: int) -> IndexSpec:
    """The TTL index on ``webhook_events.received_at``: MongoDB's TTL monitor (about once a
    minute) deletes an event ``days`` after it was received, so the log stops growing. An event
    the gateway redelivers after that is handled again, which is harmless: the handler only
    schedules ``AdvanceOrder``, and the order's compare-and-set decides."""
    if days < 1:
        raise ValueError("webhook retention must be at least one day")
    return IndexSpec(
        WEBHOOK_EVENTS,
        (("received_at", ASCENDING),),
        WEBHOOK_RETENTION_INDEX,
        expire_after_seconds=days * _DAY_SECONDS,
    )


_MONEY = {"bsonType": "decimal"}
_STRING = {"bsonType": "string"}
_OPT_STRING = {"bsonType": ["string", "null"]}
_OPT_DATE = {"bsonType": ["date", "null"]}
_INT = {"bsonType": ["int", "long"]}

#: The ``orders`` validator: the eight order statuses, the fields every order has and their
#: types. A write that breaks it is a bug in this service (the codec writes what it validates).
ORDER_VALIDATOR: dict[str, Any] = {
    "$jsonSchema": {
        "bsonType": "object",
        "required": [
            "_id",
            "reference_id",
            "id_pool",
            "request",
            "payment",
            "status",
            "created_at",
            "updated_at",
            "version",
            "history",
            "attempts",
            "parked",
        ],
        "properties": {
            "_id": _STRING,
            "reference_id": _STRING,
            "id_pool": _STRING,
            "status": {"bsonType": "string", "enum": [s.value for s in OrderStatus]},
            "created_at": {"bsonType": "date"},
            "updated_at": {"bsonType": "date"},
            "version": {**_INT, "minimum": 0},
            "request": {
                "bsonType": "object",
                "required": [
                    "reference_id",
                    "pool_id",
                    "token_symbol",
                    "amount_token",
                    "min_amount_token_receive",
                    "price_tolerance_percent",
                    "fiat_currency",
                    "price_fiat",
                    "passkey",
                ],
                "properties": {
                    "reference_id": _STRING,
                    "pool_id": _STRING,
                    "token_symbol": _STRING,
                    "amount_token": _MONEY,
                    "min_amount_token_receive": _MONEY,
                    "price_tolerance_percent": _MONEY,
                    "fiat_currency": _STRING,
                    "price_fiat": _MONEY,
                    "passkey": {
                        "bsonType": "object",
                        "required": ["credential_id", "public_key"],
                    },
                    "smart_wallet_address": _OPT_STRING,
                    "return_url": _OPT_STRING,
                },
            },
            "payment": {
                "bsonType": "object",
                "required": ["id", "token", "status", "amount", "currency"],
                "properties": {
                    "id": _STRING,
                    "token": _STRING,
                    "status": _STRING,
                    "amount": _MONEY,
                    "currency": _STRING,
                    "created_at": _OPT_DATE,
                    "expires_at": _OPT_DATE,
                },
            },
            "smart_wallet_address": _OPT_STRING,
            "history": {"bsonType": "array"},
            "attempts": {"bsonType": "object"},
            "last_error": _OPT_STRING,
            "next_attempt_at": _OPT_DATE,
            "parked": {"bsonType": "bool"},
            "parked_reason": _OPT_STRING,
            "relay_due_at": _OPT_DATE,
            "transfer": {"bsonType": ["object", "null"]},
            # The outbox (ADR 0013): not required, orders stored before it have none.
            "events": {
                "bsonType": "array",
                "items": {
                    "bsonType": "object",
                    "required": ["id", "sequence", "type", "at", "data"],
                    "properties": {
                        "id": _STRING,
                        "sequence": {**_INT, "minimum": 1},
                        "type": {"bsonType": "string", "enum": [t.value for t in EventType]},
                        "at": {"bsonType": "date"},
                        "data": {"bsonType": "object"},
                    },
                },
            },
        },
    }
}
VALIDATION_LEVEL = "strict"
VALIDATION_ACTION = "error"


@dataclass(slots=True)
class SchemaReport:
    """What ``ensure_schema`` did. ``changed`` is False on a database already up to date."""

    collections_created: list[str] = field(default_factory=list)
    validator_updated: bool = False
    indexes_created: list[str] = field(default_factory=list)
    #: TTL indexes whose expiry was changed in place (``collMod``), as ``"coll.name: N s"``.
    ttl_updated: list[str] = field(default_factory=list)
    #: Indexes with our keys but other options: left alone (never destructive), for a person.
    conflicts: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.collections_created
            or self.validator_updated
            or self.indexes_created
            or self.ttl_updated
        )

    def lines(self) -> list[str]:
        out = [f"created collection {name}" for name in self.collections_created]
        if self.validator_updated:
            out.append(f"updated the {ORDERS} validator (collMod)")
        out += [f"created index {name}" for name in self.indexes_created]
        out += [f"changed the expiry of {text}" for text in self.ttl_updated]
        out += [f"CONFLICT {text}" for text in self.conflicts]
        return out or ["up to date"]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _plain(value: Any) -> Any:
    """SON and nested mappings as plain dicts, for comparisons that ignore the server's types."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # servers echo 1 as 1.0 in index keys
    return value


def _keys_of(info: Mapping[str, Any]) -> Keys:
    # Directions come back as 1 or 1.0; special indexes ("text", "2dsphere") keep their string.
    return tuple((str(k), v if isinstance(v, str) else int(v)) for k, v in info["key"])


def _write_concern_of(db: AsyncDatabase[Any]) -> dict[str, Any]:
    """``{"writeConcern": ...}`` for a raw command, or nothing when the server's default is used."""
    document = dict(db.write_concern.document)
    return {"writeConcern": document} if document else {}


async def _check_read_concern(db: AsyncDatabase[Any]) -> None:
    """One read with the client's read concern, so a server that refuses it (``majority`` on a
    mongod with majority reads disabled) says so at startup and in ``db-init`` (as
    ``ConcernRejected``), not on the first webhook."""
    await db[WEBHOOK_EVENTS].find_one({}, {"_id": 1})


async def _collection_options(db: AsyncDatabase[Any], name: str) -> dict[str, Any] | None:
    reply = await db.command("listCollections", filter={"name": name})
    batch: Sequence[Mapping[str, Any]] = reply["cursor"]["firstBatch"]
    return dict(batch[0].get("options", {})) if batch else None


async def _ensure_orders_collection(db: AsyncDatabase[Any], report: SchemaReport) -> None:
    options = await _collection_options(db, ORDERS)
    if options is None:
        try:
            await db.create_collection(
                ORDERS,
                validator=ORDER_VALIDATOR,
                validationLevel=VALIDATION_LEVEL,
                validationAction=VALIDATION_ACTION,
            )
            report.collections_created.append(ORDERS)
            return
        except CollectionInvalid:
            # Another process created it between our look and our create: fall through and
            # check its validator like any existing collection's.
            options = await _collection_options(db, ORDERS) or {}
    up_to_date = (
        _plain(options.get("validator")) == _plain(ORDER_VALIDATOR)
        and options.get("validationLevel", "strict") == VALIDATION_LEVEL
        and options.get("validationAction", "error") == VALIDATION_ACTION
    )
    if not up_to_date:
        # collMod keeps every document and index; only the rule for future writes changes.
        # ``command`` applies no write concern of its own: pass the database's (durable) one.
        await db.command(
            "collMod",
            ORDERS,
            validator=ORDER_VALIDATOR,
            validationLevel=VALIDATION_LEVEL,
            validationAction=VALIDATION_ACTION,
            **_write_concern_of(db),
        )
        report.validator_updated = True


async def _ensure_plain_collection(db: AsyncDatabase[Any], name: str, report: SchemaReport) -> None:
    if await _collection_options(db, name) is None:
        try:
            await db.create_collection(name)
            report.collections_created.append(name)
        except CollectionInvalid:
            pass  # created concurrently: fine, it has no options to check


async def _ensure_index(db: AsyncDatabase[Any], spec: IndexSpec, report: SchemaReport) -> None:
    collection = db[spec.collection]
    existing: Mapping[str, Any] = await collection.index_information()
    want = _plain(spec.options())
    want.pop("name")
    for name, info in existing.items():
        if _keys_of(info) != spec.keys:
            continue
        have = {
            k: _plain(info[k])
            for k in ("unique", "partialFilterExpression", "expireAfterSeconds")
            if info.get(k) is not None and info.get(k) is not False
        }
        if have == want:
            return  # already there (under whatever name)
        if _only_expiry_differs(have, want):
            await _set_expiry(db, spec, name, report)
            return
        report.conflicts.append(
            f"{spec.collection}.{name} has keys {list(spec.keys)} with options {have}, "
            f"expected {want}; drop or rebuild it by hand"
        )
        return
    if spec.name in existing:
        report.conflicts.append(
            f"{spec.collection}.{spec.name} exists with other keys "
            f"{list(_keys_of(existing[spec.name]))}, expected {list(spec.keys)}"
        )
        return
    try:
        await collection.create_index(list(spec.keys), **spec.options())
    except OperationFailure as exc:
        # 85/86: an index with these keys or this name appeared meanwhile with other options.
        if exc.code in (85, 86):
            report.conflicts.append(f"{spec.collection}.{spec.name}: {exc}")
            return
        raise
    report.indexes_created.append(f"{spec.collection}.{spec.name}")


def _only_expiry_differs(have: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """Both are TTL indexes and nothing but the expiry differs: changed in place, not a
    conflict (a new ``WEBHOOK_EVENT_RETENTION_DAYS`` is an ordinary change of setting)."""
    if "expireAfterSeconds" not in have or "expireAfterSeconds" not in want:
        return False
    strip = ("expireAfterSeconds",)
    return {k: v for k, v in have.items() if k not in strip} == {
        k: v for k, v in want.items() if k not in strip
    }


async def _set_expiry(
    db: AsyncDatabase[Any], spec: IndexSpec, name: str, report: SchemaReport
) -> None:
    # collMod changes a TTL index's expiry in place: nothing is dropped or rebuilt.
    await db.command(
        "collMod",
        spec.collection,
        index={"name": name, "expireAfterSeconds": spec.expire_after_seconds},
        **_write_concern_of(db),
    )
    report.ttl_updated.append(f"{spec.collection}.{name}: {spec.expire_after_seconds} s")


async def ensure_schema(
    db: AsyncDatabase[Any], *, webhook_retention_days: int = DEFAULT_WEBHOOK_RETENTION_DAYS
) -> SchemaReport:
    """Create or update the validator and the indexes; idempotent, never destructive. Every
    write goes with the client's write concern; a read concern the server refuses raises
    ``ConcernRejected``. ``webhook_retention_days``: how long the TTL index keeps a webhook
    event (``WEBHOOK_EVENT_RETENTION_DAYS``); changing it updates the index in place.

    ``db`` is a PyMongo ``AsyncDatabase`` or a Motor ``AsyncIOMotorDatabase``.
    """
    report = SchemaReport()
    specs = (*INDEXES, webhook_retention_index(webhook_retention_days))
    with translate_errors("ensure schema"):
        await _ensure_orders_collection(db, report)
        await _ensure_plain_collection(db, WEBHOOK_EVENTS, report)
        await _ensure_plain_collection(db, EVENT_DELIVERIES, report)
        await _ensure_plain_collection(db, PAYMENT_INTENTS, report)
        for spec in specs:
            await _ensure_index(db, spec, report)
        await _check_read_concern(db)
    return report
