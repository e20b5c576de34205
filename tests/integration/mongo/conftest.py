"""A fresh database per test on the session's Mongo-wire server, with a PyMongo Async client
made on the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.contract.mongo import fresh_database

pytestmark = pytest.mark.mongo


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """An empty database (nothing ensured yet), dropped afterwards."""
    async for database in fresh_database(mongo_uri, "pymongo", prefix="it", ensure=False):
        yield database
