"""A fresh Mongo database for one test, on a client made in that test's event loop."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongo import close_client, ensure_schema, get_database, make_client
from adapters.mongo.client import MongoClient

#: A dead server should fail a test in seconds, not after the production default.
TEST_CLIENT_OPTIONS: dict[str, Any] = {
    "server_selection_timeout_ms": 3_000,
}


def short_lived_client(uri: str, driver: str, **options: Any) -> MongoClient:
    return make_client(uri, driver, **{**TEST_CLIENT_OPTIONS, **options})


async def fresh_database(
    uri: str, driver: str, *, prefix: str, ensure: bool = True
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database no other test uses (schema ensured unless ``ensure=False``), dropped after."""
    client = short_lived_client(uri, driver)
    database = get_database(client, f"{prefix}_{uuid.uuid4().hex[:16]}")
    try:
        if ensure:
            await ensure_schema(database)
        yield database
    finally:
        await client.drop_database(database.name)
        await close_client(client)
