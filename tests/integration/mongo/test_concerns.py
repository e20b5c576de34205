"""The write and read concerns the adapters use (docs/adr/0009-durable-writes.md): durable by
default on both drivers, each one overridable in the URI, on the wire for every command, and a
concern the server refuses reported as ``ConcernRejected``, never weakened silently."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo import monitoring
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.client_options import ClientOptions

from adapters.mongo import (
    ConcernRejected,
    MongoOrderRepository,
    MongoWebhookEventLog,
    close_client,
    ensure_schema,
    get_database,
    make_client,
)
from application.ports import WebhookEvent
from tests.contract.orders import at, new_order, paid
from tests.integration.mongo.failpoints import FaultyClient

Db = AsyncDatabase[dict[str, Any]]
DRIVERS = ("pymongo", "motor")
DURABLE = {"w": "majority", "j": True}
WRITES = frozenset(
    {"insert", "update", "delete", "findAndModify", "create", "createIndexes", "collMod"}
)
READS = frozenset({"find", "aggregate", "count"})


class Commands(monitoring.CommandListener):
    """Every command the client sent, as sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize(
    ("query", "write_concern", "read_level"),
    [
        ("", DURABLE, "majority"),
        ("?w=1&journal=false&readConcernLevel=local", {"w": 1, "j": False}, "local"),
        ("?w=majority", DURABLE, "majority"),
        ("?journal=false", {"w": "majority", "j": False}, "majority"),
        ("?w=0", {"w": 0}, "majority"),  # unacknowledged: no journal to wait for
    ],
    ids=["defaults", "all-in-uri", "w-in-uri", "journal-in-uri", "unacknowledged"],
)
async def test_the_defaults_are_durable_and_each_option_in_the_uri_wins(
    driver: str, query: str, write_concern: dict[str, Any], read_level: str
) -> None:
    client = make_client(f"mongodb://127.0.0.1:9/{query}", driver)  # no I/O until first use
    try:
        assert client.write_concern.document == write_concern
        assert client.read_concern.level == read_level
    finally:
        await close_client(client)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_the_defaults_fail_fast(driver: str) -> None:
    client = make_client("mongodb://127.0.0.1:9/", driver)
    try:
        options = client.options
        assert isinstance(options, ClientOptions)
        assert options.server_selection_timeout == 1.0
        assert options.timeout is None  # an operation budget would override server selection
        in_uri = make_client("mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=4000", driver)
        assert isinstance(in_uri.options, ClientOptions)
        assert in_uri.options.server_selection_timeout == 4.0
        await close_client(in_uri)
    finally:
        await close_client(client)


@pytest.mark.parametrize("driver", DRIVERS)
async def test_every_write_and_read_of_the_adapters_carries_the_durable_concerns(
    mongo_uri: str, driver: str
) -> None:
    commands = Commands()
    client = make_client(
        mongo_uri, driver, server_selection_timeout_ms=3_000, event_listeners=[commands]
    )
    database = get_database(client, f"concerns_{uuid.uuid4().hex[:12]}")
    try:
        await ensure_schema(database)
        repository = MongoOrderRepository(database)
        webhook_log = MongoWebhookEventLog(database)
        order = new_order(1)
        await repository.add(order)
        await repository.save(paid(order, 1), expected_version=0)
        assert await repository.get(order.id) is not None
        assert await repository.get_by_payment_id("pay-1") is not None
        await repository.due_for_retry(at(10), 5)
        assert await webhook_log.record(WebhookEvent("evt-1", "pay-1", b"{}", at(0), "received"))
        await webhook_log.set_outcome("evt-1", "accepted")
        await webhook_log.for_payment("pay-1")
        # An older validator, set by another client: ensure_schema updates it with collMod.
        other = make_client(mongo_uri, "pymongo", server_selection_timeout_ms=3_000)
        await get_database(other, database.name).command("collMod", "orders", validator={})
        await close_client(other)
        await ensure_schema(database)
    finally:
        await client.drop_database(database.name)
        await close_client(client)

    ours = [(name, cmd) for name, cmd in commands.sent if cmd.get("$db") == database.name]
    writes = [(name, cmd.get("writeConcern")) for name, cmd in ours if name in WRITES]
    reads = [(name, cmd.get("readConcern")) for name, cmd in ours if name in READS]
    assert {name for name, _ in writes} >= {
        "insert",
        "update",
        "create",
        "createIndexes",
        "collMod",
    }
    assert [(name, wc) for name, wc in writes if wc != DURABLE] == []
    assert {name for name, _ in reads} >= {"find"}
    assert [(name, rc) for name, rc in reads if rc != {"level": "majority"}] == []


async def test_a_read_concern_the_server_refuses_is_reported_never_weakened(
    faulty: FaultyClient,
) -> None:
    # 148 ReadConcernMajorityNotEnabled: a mongod whose majority reads are turned off.
    await faulty.fail_next("find", errorCode=148)
    with pytest.raises(ConcernRejected, match="readConcernLevel=") as raised:
        await MongoOrderRepository(faulty.database).get("some-order")
    assert raised.value.code == 148


async def test_a_read_concern_the_server_refuses_stops_startup_and_db_init(
    faulty: FaultyClient,
) -> None:
    # ensure_schema (startup, db-init) reads once with the read concern.
    await faulty.fail_next("find", errorCode=148)
    with pytest.raises(ConcernRejected):
        await ensure_schema(faulty.database)


async def test_a_write_concern_the_server_cannot_satisfy_is_reported(
    faulty: FaultyClient,
) -> None:
    repository = MongoOrderRepository(faulty.database)
    await faulty.fail_next(
        "insert", writeConcernError={"code": 100, "errmsg": "Not enough data-bearing nodes"}
    )
    with pytest.raises(ConcernRejected) as raised:
        await repository.add(new_order(1))
    assert raised.value.code == 100
