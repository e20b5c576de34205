"""What the Mongo repository does when the data or the server misbehaves."""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongo import (
    MongoOrderRepository,
    MongoWebhookEventLog,
    OrderDocumentRejected,
    close_client,
    ensure_schema,
    get_database,
    order_to_document,
)
from application.errors import CorruptDocument, InfrastructureUnavailable
from application.ports import WebhookEvent
from tests.contract.mongo import short_lived_client
from tests.contract.orders import at, new_order
from tests.integration.mongo.failpoints import FaultyClient

Db = AsyncDatabase[dict[str, Any]]


async def _store_hand_edited(db: Db, n: int, **changes: Any) -> str:
    """An order document edited by hand past the validator, as an operator's script might."""
    document = order_to_document(new_order(n))
    document.update(changes)
    await db.orders.insert_one(document, bypass_document_validation=True)
    return str(document["_id"])


async def test_a_hand_edited_status_is_a_corrupt_document_naming_its_id(db: Db) -> None:
    await ensure_schema(db)
    repository = MongoOrderRepository(db)
    order_id = await _store_hand_edited(db, 1, status="shipped")

    with pytest.raises(CorruptDocument) as raised:
        await repository.get(order_id)

    assert raised.value.document_id == order_id
    assert "shipped" in str(raised.value)
    with pytest.raises(CorruptDocument, match=order_id):
        await repository.get_by_reference_id("ref-1")


async def test_a_listing_query_raises_on_a_corrupt_document_instead_of_skipping_it(
    db: Db,
) -> None:
    await ensure_schema(db)
    repository = MongoOrderRepository(db)
    await repository.add(new_order(1))
    # A float where an amount belongs: never read as money.
    bad = order_to_document(new_order(2))
    bad["request"]["amount_token"] = 12.5
    await db.orders.insert_one(bad, bypass_document_validation=True)

    with pytest.raises(CorruptDocument) as raised:
        await repository.pending_payments(at(100), 10)

    assert raised.value.document_id == bad["_id"]
    assert "Decimal128" in raised.value.reason


async def test_a_write_the_validator_refuses_is_logged_with_the_id_and_raised_clearly(
    db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    await ensure_schema(db)
    # A stricter rule than the codec knows, as a newer validator deployed before newer code would
    # be: the server refuses the write with code 121.
    await db.command(
        "collMod",
        "orders",
        validator={"$jsonSchema": {"bsonType": "object", "required": ["field_we_never_write"]}},
    )
    repository = MongoOrderRepository(db)
    order = new_order(1)

    with (
        caplog.at_level(logging.ERROR, logger="adapters.mongo.errors"),
        pytest.raises(OrderDocumentRejected) as raised,
    ):
        await repository.add(order)

    assert raised.value.document_id == order.id
    assert order.id in str(raised.value)
    assert any(order.id in r.getMessage() for r in caplog.records)
    assert await db.orders.count_documents({}) == 0


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # see test_schema: PyMongo's monitor
async def test_an_unreachable_server_is_infrastructure_unavailable() -> None:
    client = short_lived_client(
        "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200&timeoutMS=300", "pymongo"
    )
    db = get_database(client, "nowhere")
    repository = MongoOrderRepository(db)
    log = MongoWebhookEventLog(db)
    try:
        with pytest.raises(InfrastructureUnavailable) as raised:
            await repository.ping()
        assert raised.value.component == "mongodb"
        with pytest.raises(InfrastructureUnavailable):
            await repository.get_by_payment_id("pay-1")
        with pytest.raises(InfrastructureUnavailable):
            await repository.save(new_order(1), expected_version=0)
        with pytest.raises(InfrastructureUnavailable):
            await log.record(WebhookEvent("evt-1", "pay-1", b"{}", at(0), "received"))
    finally:
        await close_client(client)
    gc.collect()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # see test_schema: PyMongo's monitor
async def test_the_readiness_ping_gives_up_before_the_drivers_own_timeouts() -> None:
    # The driver would wait 30 s for a server; the probe's bound answers first, so what comes
    # back is the bound's message, not the driver's.
    client = short_lived_client(
        "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=30000&timeoutMS=30000", "pymongo"
    )
    try:
        with pytest.raises(InfrastructureUnavailable, match="no answer within"):
            await MongoOrderRepository(get_database(client, "nowhere")).ping()
    finally:
        await close_client(client)
    gc.collect()


@pytest.mark.parametrize(
    "fault",
    [{"closeConnection": True}, {"errorCode": 50}],  # network drop; MaxTimeMSExpired
    ids=["connection-dropped", "write-timed-out"],
)
async def test_a_save_that_fails_in_transit_is_transient_and_writes_nothing(
    faulty: FaultyClient, fault: dict[str, Any]
) -> None:
    repository = MongoOrderRepository(faulty.database)
    await repository.add(new_order(1))
    order = await repository.get_by_reference_id("ref-1")
    assert order is not None
    order.mark_paid(at(1))
    await faulty.fail_next("update", **fault)

    with pytest.raises(InfrastructureUnavailable):
        await repository.save(order, expected_version=0)

    stored = await repository.get(order.id)
    assert stored is not None
    assert (stored.version, stored.status.value) == (0, "pending")
    await repository.save(order, expected_version=0)  # the caller's retry goes through
    assert order.version == 1
