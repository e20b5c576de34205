"""The implementations each contract suite runs against.

Mongo ones get a fresh database per test (SecantusDB or ``MONGODB_TEST_URI``), with the schema
ensured, and a client made inside the test's event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.memory import InMemoryOrderRepository, InMemoryWebhookEventLog
from adapters.mongo import (
    MongoOrderRepository,
    MongoWebhookEventLog,
    close_client,
    ensure_schema,
    get_database,
    make_client,
)
from adapters.mongo.client import MongoClient
from application.ports import OrderRepository, WebhookEventLog

MONGO = pytest.mark.mongo


async def _fresh_database(
    request: pytest.FixtureRequest, driver: str
) -> AsyncIterator[AsyncDatabase[dict[str, object]]]:
    uri: str = request.getfixturevalue("mongo_uri")
    client: MongoClient = make_client(uri, driver, server_selection_timeout_ms=3_000)
    database = get_database(client, f"contract_{uuid.uuid4().hex[:16]}")
    try:
        await ensure_schema(database)
        yield database
    finally:
        await client.drop_database(database.name)
        await close_client(client)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("pymongo", marks=MONGO),
        pytest.param("motor", marks=MONGO),
    ]
)
async def repository(request: pytest.FixtureRequest) -> AsyncIterator[OrderRepository]:
    if request.param == "memory":
        yield InMemoryOrderRepository()
        return
    async for database in _fresh_database(request, request.param):
        yield MongoOrderRepository(database)


@pytest.fixture(params=["memory", pytest.param("pymongo", marks=MONGO)])
async def webhook_log(request: pytest.FixtureRequest) -> AsyncIterator[WebhookEventLog]:
    if request.param == "memory":
        yield InMemoryWebhookEventLog()
        return
    async for database in _fresh_database(request, request.param):
        yield MongoWebhookEventLog(database)
