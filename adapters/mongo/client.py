"""Building and closing the Mongo client: PyMongo's ``AsyncMongoClient`` by default, Motor's
``AsyncIOMotorClient`` with ``MONGODB_DRIVER=motor`` (see docs/adr/0002-pymongo-async-default.md).
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeAlias, cast
from urllib.parse import parse_qs, urlsplit

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

if TYPE_CHECKING:
    from motor.motor_asyncio import AsyncIOMotorClient

DRIVERS = ("pymongo", "motor")

Document: TypeAlias = dict[str, Any]

#: Either driver's client. The adapters are written against PyMongo's ``AsyncDatabase``; Motor's
#: database offers the same awaitable methods they use (insert_one, find_one, replace_one,
#: update_one, find + sort/limit + async iteration, command, create_collection, create_index,
#: index_information), which the contract suite checks by running on both. Only ``close``
#: differs, and ``close_client`` handles it.
MongoClient: TypeAlias = "AsyncMongoClient[Document] | AsyncIOMotorClient[Document]"


def make_client(
    uri: str,
    driver: str = "pymongo",
    *,
    app_name: str = "orders-service",
    server_selection_timeout_ms: int = 5_000,
    connect_timeout_ms: int = 5_000,
    timeout_ms: int | None = 10_000,
    **driver_options: Any,
) -> MongoClient:
    """A client for ``uri`` (no I/O yet: the driver connects on first use).

    Options written in ``uri`` win over these defaults. Times are read back UTC-aware
    (``tz_aware=True``). ``timeout_ms`` bounds every operation
    (client-side operation timeout); an operation past it raises, and the adapters report it as
    ``InfrastructureUnavailable``. ``driver_options`` go to the driver's client as they are.
    """
    defaults: dict[str, Any] = {
        "appname": app_name,
        "serverSelectionTimeoutMS": server_selection_timeout_ms,
        "connectTimeoutMS": connect_timeout_ms,
    }
    if timeout_ms is not None:
        defaults["timeoutMS"] = timeout_ms
    # Keyword options would override the URI's; an option the operator wrote in MONGODB_URI wins.
    in_uri = {key.lower() for key in parse_qs(urlsplit(uri).query)}
    options = {k: v for k, v in defaults.items() if k.lower() not in in_uri}
    options.update(driver_options)
    options["tz_aware"] = True
    if driver == "pymongo":
        return AsyncMongoClient(uri, **options)
    if driver == "motor":
        from motor.motor_asyncio import AsyncIOMotorClient  # noqa: PLC0415 - only when chosen

        motor_client: AsyncIOMotorClient[Document] = AsyncIOMotorClient(uri, **options)
        return motor_client
    raise ValueError(f"MONGODB_DRIVER must be one of {', '.join(DRIVERS)}, got {driver!r}")


async def close_client(client: MongoClient) -> None:
    """Close either driver's client (PyMongo's ``close`` is a coroutine, Motor's is not)."""
    closing = client.close()
    if inspect.isawaitable(closing):
        await closing


async def open_client(
    uri: str, driver: str = "pymongo", **options: Any
) -> AsyncIterator[MongoClient]:
    """``make_client`` as an async-generator resource: yields the client, closes it after.

    Fits ``dependency_injector.providers.Resource(open_client, uri, driver)`` as is.
    """
    client = make_client(uri, driver, **options)
    try:
        yield client
    finally:
        await close_client(client)


def get_database(client: MongoClient, name: str) -> AsyncDatabase[Document]:
    """The database ``name`` of ``client`` (``MONGODB_DB_NAME``), typed as PyMongo's: Motor's
    database has the same API for every method the adapters call (see ``MongoClient``)."""
    return cast("AsyncDatabase[Document]", client[name])
