"""``ensure_schema`` and ``orders-service db-init`` on a real Mongo-wire server."""

from __future__ import annotations

import argparse
import asyncio
import gc
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import WriteError

from adapters.mongo import INDEXES, ORDER_VALIDATOR, close_client, ensure_schema, get_database
from entrypoints.commands import db_init
from tests.contract.mongo import short_lived_client
from tests.contract.orders import new_order

Db = AsyncDatabase[dict[str, Any]]

#: The four original indexes exactly (keys in order, options), then the worker's two.
EXPECTED_ORDER_INDEXES = {
    "_id_": {"key": [("_id", 1)]},
    "reference_id_1": {"key": [("reference_id", 1)], "unique": True},
    "status_1_created_at_-1": {"key": [("status", 1), ("created_at", -1)]},
    "payment.id_1": {
        "key": [("payment.id", 1)],
        "unique": True,
        "partialFilterExpression": {"payment.id": {"$exists": True, "$type": "string"}},
    },
    "id_pool_1_created_at_-1": {"key": [("id_pool", 1), ("created_at", -1)]},
    "status_1_updated_at_1": {"key": [("status", 1), ("updated_at", 1)]},
    "retry_due": {
        "key": [("status", 1), ("next_attempt_at", 1)],
        "partialFilterExpression": {"parked": False},
    },
    # The admin search's (docs/operations.md).
    "admin_created": {"key": [("created_at", -1), ("_id", -1)]},
    "admin_created_price": {"key": [("created_at", -1), ("_id", -1), ("request.price_fiat", -1)]},
    "admin_status_created": {"key": [("status", 1), ("created_at", -1), ("_id", -1)]},
    "admin_pool_created": {"key": [("id_pool", 1), ("created_at", -1), ("_id", -1)]},
    "admin_token_created": {"key": [("request.token_symbol", 1), ("created_at", -1), ("_id", -1)]},
    "admin_currency_created": {
        "key": [("request.fiat_currency", 1), ("created_at", -1), ("_id", -1)]
    },
    "admin_price": {"key": [("request.price_fiat", -1), ("_id", -1)]},
    "admin_parked_created": {
        "key": [("parked", 1), ("created_at", -1), ("_id", -1)],
        "partialFilterExpression": {"parked": True},
    },
    # The event relay's orders with events not looked at yet (ADR 0016).
    "relay_due": {
        "key": [("relay_due_at", 1)],
        "partialFilterExpression": {"relay_due_at": {"$type": "date"}},
    },
}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _db_init() -> int:
    """``orders-service db-init`` through its own module (the CLI minus the other commands)."""
    parser = argparse.ArgumentParser(prog="orders-service")
    db_init.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["db-init"])
    code: int = args.handler(args)
    return code


async def _indexes(db: Db, collection: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, spec in (await db[collection].index_information()).items():
        found[name] = {"key": [(k, int(v)) for k, v in spec["key"]]}
        for option in ("unique", "partialFilterExpression", "expireAfterSeconds"):
            if option in spec:
                found[name][option] = _plain(spec[option])
    return found


async def _options(db: Db, name: str) -> dict[str, Any]:
    reply = await db.command("listCollections", filter={"name": name})
    return dict(reply["cursor"]["firstBatch"][0]["options"])


async def test_an_empty_database_gets_the_validator_and_exactly_the_indexes(db: Db) -> None:
    report = await ensure_schema(db)

    assert report.collections_created == [
        "orders",
        "webhook_events",
        "event_deliveries",
        "payment_intents",
    ]
    assert not report.conflicts
    indexes = await _indexes(db, "orders")
    # The four original ones and the worker's two, with exactly these keys and options...
    assert {name: indexes.get(name) for name in EXPECTED_ORDER_INDEXES} == EXPECTED_ORDER_INDEXES
    # ...and nothing that is not declared in adapters/mongo/schema.py.
    assert set(indexes) == {"_id_"} | {s.name for s in INDEXES if s.collection == "orders"}
    assert await _indexes(db, "webhook_events") == {
        "_id_": {"key": [("_id", 1)]},
        "payment_id_1_received_at_1": {"key": [("payment_id", 1), ("received_at", 1)]},
        # Retention: WEBHOOK_EVENT_RETENTION_DAYS (90 by default) after it was received.
        "received_at_ttl": {"key": [("received_at", 1)], "expireAfterSeconds": 90 * 86_400},
    }
    assert await _indexes(db, "event_deliveries") == {
        "_id_": {"key": [("_id", 1)]},
        # The relay's retries, redeliveries and lapsed leases (ADR 0016); the admin's view.
        "delivery_due": {
            "key": [("due_at", 1)],
            "partialFilterExpression": {"due_at": {"$type": "date"}},
        },
        "order_id_1": {"key": [("order_id", 1)]},
    }
    # Intents a crash left behind go a day after their lease (docs/adr/0012).
    assert await _indexes(db, "payment_intents") == {
        "_id_": {"key": [("_id", 1)]},
        "lease_until_ttl": {"key": [("lease_until", 1)], "expireAfterSeconds": 86_400},
    }
    options = await _options(db, "orders")
    assert _plain(options["validator"]) == _plain(ORDER_VALIDATOR)
    assert options.get("validationLevel", "strict") == "strict"
    assert options.get("validationAction", "error") == "error"


async def test_a_second_run_changes_nothing(db: Db) -> None:
    await ensure_schema(db)

    again = await ensure_schema(db)

    assert not again.changed
    assert str(again) == "up to date"


async def test_the_validator_refuses_a_status_outside_the_eight(db: Db) -> None:
    await ensure_schema(db)
    from adapters.mongo import order_to_document  # noqa: PLC0415

    document = order_to_document(new_order(1))
    document["status"] = "shipped"

    with pytest.raises(WriteError) as raised:
        await db.orders.insert_one(document)
    assert raised.value.code == 121


async def test_an_older_validator_is_updated_in_place_and_nothing_is_dropped(db: Db) -> None:
    old = {"$jsonSchema": {"bsonType": "object", "required": ["reference_id"]}}
    await db.create_collection("orders", validator=old)
    await db.orders.insert_one({"_id": "seed-order", "reference_id": "seed-ref", "extra": 1})
    await db.orders.create_index([("reference_id", 1)], unique=True)

    report = await ensure_schema(db)

    assert report.validator_updated
    assert "orders" not in report.collections_created
    assert "orders.reference_id_1" not in report.indexes_created  # the original one is kept
    assert _plain((await _options(db, "orders"))["validator"]) == _plain(ORDER_VALIDATOR)
    assert await db.orders.find_one({"_id": "seed-order"}) == {
        "_id": "seed-order",
        "reference_id": "seed-ref",
        "extra": 1,
    }
    indexes = await _indexes(db, "orders")
    assert {name: indexes.get(name) for name in EXPECTED_ORDER_INDEXES} == EXPECTED_ORDER_INDEXES
    assert str(await ensure_schema(db)) == "up to date"


async def test_an_index_with_our_keys_but_other_options_is_reported_not_dropped(db: Db) -> None:
    await db.orders.create_index([("reference_id", 1)], name="ref_not_unique")

    report = await ensure_schema(db)

    assert len(report.conflicts) == 1
    assert "ref_not_unique" in report.conflicts[0]
    indexes = await _indexes(db, "orders")
    assert indexes["ref_not_unique"] == {"key": [("reference_id", 1)]}
    assert "reference_id_1" not in indexes


def test_db_init_command_creates_then_reports_up_to_date(
    mongo_uri: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uuid  # noqa: PLC0415

    name = f"cli_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("MONGODB_URI", mongo_uri)
    monkeypatch.setenv("MONGODB_DB_NAME", name)
    monkeypatch.setenv("MONGODB_DRIVER", "motor")

    assert _db_init() == 0
    first = capsys.readouterr().out
    assert _db_init() == 0
    second = capsys.readouterr().out

    assert "created collection orders" in first
    assert "created index orders.payment.id_1" in first
    assert "created index webhook_events.received_at_ttl" in first
    assert second.splitlines() == [f"database {name} (motor):", "  up to date"]
    # The TTL index db-init made, with the retention the setting asks for.
    monkeypatch.setenv("WEBHOOK_EVENT_RETENTION_DAYS", "7")
    assert _db_init() == 0
    third = capsys.readouterr().out
    assert "changed the expiry of webhook_events.received_at_ttl: 604800 s" in third
    ttl = asyncio.run(_index_of(mongo_uri, name, "webhook_events", "received_at_ttl"))
    assert ttl["key"] == [("received_at", 1)]
    assert ttl["expireAfterSeconds"] == 7 * 86_400
    asyncio.run(_drop(mongo_uri, name))


async def _index_of(uri: str, db_name: str, collection: str, index: str) -> dict[str, Any]:
    client = short_lived_client(uri, "pymongo")
    try:
        return (await _indexes(get_database(client, db_name), collection))[index]
    finally:
        await close_client(client)


def test_db_init_refuses_a_retention_below_one_day(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://127.0.0.1:9/")
    monkeypatch.setenv("WEBHOOK_EVENT_RETENTION_DAYS", "0")

    assert _db_init() == 2
    assert "WEBHOOK_EVENT_RETENTION_DAYS" in capsys.readouterr().err


async def _drop(uri: str, name: str) -> None:
    client = short_lived_client(uri, "pymongo")
    try:
        await client.drop_database(name)
    finally:
        await close_client(client)


# PyMongo Async leaks the socket of a connect its monitor was making when ``close()`` cancels it
# (pool_shared._async_create_connection closes it on OSError, not on CancelledError): collect it
# here, where its ResourceWarning is expected, rather than let it fail whichever test runs next.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_db_init_names_an_unreachable_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "MONGODB_URI", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200&timeoutMS=300"
    )

    assert _db_init() == 3
    assert "mongodb unavailable" in capsys.readouterr().err
    gc.collect()


async def test_indexes_of_other_kinds_are_left_alone(db: Db) -> None:
    await db.orders.create_index([("location", "2dsphere")], name="seed_geo")

    report = await ensure_schema(db)

    assert not report.conflicts
    assert "seed_geo" in await db.orders.index_information()


async def test_the_ttl_index_deletes_events_older_than_the_retention(tmp_path: Any) -> None:
    """Not only the index's spec: a server's TTL monitor deletes by it. A SecantusDB of this
    test's own, whose monitor runs every 0.2 s (MongoDB's runs every 60 s)."""
    secantus = pytest.importorskip("secantus")
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    server = secantus.SecantusDBServer(
        host="127.0.0.1", port=0, storage_path=str(tmp_path / "data"), ttl_sweep_seconds=0.2
    )
    server.start()
    client = short_lived_client(f"{server.uri}?retryWrites=false", "pymongo")
    try:
        db = get_database(client, "ttl")
        await ensure_schema(db, webhook_retention_days=1)
        now = datetime.now(UTC)
        await db.webhook_events.insert_many(
            [
                {"_id": "old", "payment_id": "p", "received_at": now - timedelta(days=2)},
                {"_id": "new", "payment_id": "p", "received_at": now - timedelta(hours=23)},
            ]
        )
        left: list[str] = []
        for _ in range(100):  # up to 10 s
            left = [d["_id"] async for d in db.webhook_events.find({}, {"_id": 1})]
            if left == ["new"]:
                break
            await asyncio.sleep(0.1)
        assert left == ["new"]
    finally:
        await close_client(client)
        server.stop()
