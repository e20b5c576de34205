"""A fresh database per test on the session's Mongo-wire server, with a PyMongo Async client
made on the test's event loop; ``faulty``: a client of its own whose commands can be failed;
``killable_mongo``: a server process of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongo import close_client, ensure_schema, get_database
from tests.contract.mongo import fresh_database, short_lived_client
from tests.integration.mongo.failpoints import FaultyClient
from tests.killable import SecantusServer


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """An empty database (nothing ensured yet), dropped afterwards."""
    async for database in fresh_database(mongo_uri, "pymongo", prefix="it", ensure=False):
        yield database


@pytest.fixture
async def faulty(db: AsyncDatabase[dict[str, Any]], mongo_uri: str) -> AsyncIterator[FaultyClient]:
    """``db`` with its schema, through a client of its own whose commands a test can fail."""
    await ensure_schema(db)
    app_name = f"faulty-{db.name}"
    client = short_lived_client(mongo_uri, "pymongo", appname=app_name)
    try:
        yield FaultyClient(get_database(client, db.name), app_name, armer=db)
    finally:
        await close_client(client)


@pytest.fixture
def killable_mongo(tmp_path: Path) -> Iterator[SecantusServer]:
    """A Mongo-wire server of this test's own, in its own process, started; killed at the end."""
    server = SecantusServer(tmp_path / "secantusd.log", tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        server.kill()
