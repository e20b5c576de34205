"""The implementations each contract suite runs against.

Mongo ones get a fresh database per test (SecantusDB or ``MONGODB_TEST_URI``), with the schema
ensured, and a client made inside the test's event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.memory import (
    InMemoryOrderRepository,
    InMemoryPaymentIntents,
    InMemoryWebhookEventLog,
)
from adapters.mongo import (
    MongoOrderRepository,
    MongoPaymentIntents,
    MongoWebhookEventLog,
)
from application.ports import OrderRepository, PaymentIntents, WebhookEventLog
from tests.contract.mongo import fresh_database

MONGO = pytest.mark.mongo


def mongo_uri(request: pytest.FixtureRequest) -> str:
    # Only the Mongo parameters ask for the server, so in-memory runs never start one.
    uri: str = request.getfixturevalue("mongo_uri")
    return uri


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
    async for database in fresh_database(mongo_uri(request), request.param, prefix="contract"):
        yield MongoOrderRepository(database)


@pytest.fixture(params=["memory", pytest.param("pymongo", marks=MONGO)])
async def webhook_log(request: pytest.FixtureRequest) -> AsyncIterator[WebhookEventLog]:
    if request.param == "memory":
        yield InMemoryWebhookEventLog()
        return
    async for database in fresh_database(mongo_uri(request), request.param, prefix="contract"):
        yield MongoWebhookEventLog(database)


@pytest.fixture(
    params=["memory", pytest.param("pymongo", marks=MONGO), pytest.param("motor", marks=MONGO)]
)
async def payment_intents(request: pytest.FixtureRequest) -> AsyncIterator[PaymentIntents]:
    if request.param == "memory":
        yield InMemoryPaymentIntents()
        return
    async for database in fresh_database(mongo_uri(request), request.param, prefix="contract"):
        yield MongoPaymentIntents(database)
