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


#: The write concern the service asks for unless ``MONGODB_URI`` says otherwise: acknowledged by
#: a majority of the replica set, each of them having written it to its on-disk journal. On a
#: single node "majority" is the node itself. ``j`` is explicit because not every server derives
#: it from "majority" (mongod does, with ``writeConcernMajorityJournalDefault``; SecantusDB does
#: not: measured, docs/adr/0009-durable-writes.md).
DURABLE_WRITE_CONCERN: dict[str, Any] = {"w": "majority", "journal": True}
#: Reads see only what a majority has written, so what decides a side effect cannot be rolled
#: back by a failover.
DURABLE_READ_CONCERN_LEVEL = "majority"

#: Fail fast: a request gets its 503 within 1-1.5 s of an outage instead of waiting out a long
#: operation budget (docs/adr/0009-durable-writes.md, "Failing fast"). PyMongo looks at this
#: deadline every 0.5 s while it waits for a server, so 1 s gives up after 1.0-1.5 s (measured),
#: and 1.5 s would give up after up to 2.0 s.
SERVER_SELECTION_TIMEOUT_MS = 1_000
CONNECT_TIMEOUT_MS = 2_000
#: A server that is up but does not answer (not one that is down: that is refused at once).
SOCKET_TIMEOUT_MS = 10_000
#: Waiting for a pooled connection when all are busy.
WAIT_QUEUE_TIMEOUT_MS = 10_000


def _uri_options(uri: str) -> set[str]:
    """The option names written in ``uri``'s query string, lower-cased."""
    return {key.lower() for key in parse_qs(urlsplit(uri).query, keep_blank_values=True)}


def _uri_says_unacknowledged(uri: str) -> bool:
    values = [v for k, vs in parse_qs(urlsplit(uri).query).items() if k.lower() == "w" for v in vs]
    return values[-1:] == ["0"]


def make_client(
    uri: str,
    driver: str = "pymongo",
    *,
    app_name: str = "orders-service",
    server_selection_timeout_ms: int = SERVER_SELECTION_TIMEOUT_MS,
    connect_timeout_ms: int = CONNECT_TIMEOUT_MS,
    socket_timeout_ms: int | None = SOCKET_TIMEOUT_MS,
    wait_queue_timeout_ms: int | None = WAIT_QUEUE_TIMEOUT_MS,
    timeout_ms: int | None = None,
    **driver_options: Any,
) -> MongoClient:
    """A client for ``uri`` (no I/O yet: the driver connects on first use).

    Every option here is a default: one written in ``uri`` wins, key by key (``w``, ``journal``,
    ``readConcernLevel``, the timeouts). The defaults are durable (``DURABLE_WRITE_CONCERN``,
    ``DURABLE_READ_CONCERN_LEVEL``) and fail fast (``SERVER_SELECTION_TIMEOUT_MS``). A URI asking
    for ``w=0`` gets no ``journal`` default (an unacknowledged write cannot wait for the journal).

    ``timeout_ms`` (the driver's client-side operation timeout, ``timeoutMS``) is off by default:
    when set, the driver waits that long for a server and ignores ``serverSelectionTimeoutMS``, so
    an outage would answer only after it (``timeoutMS=10000``: 10 s). Times are
    read back UTC-aware (``tz_aware=True``). ``driver_options`` go to the driver as they are.
    """
    defaults: dict[str, Any] = {
        "appname": app_name,
        "serverSelectionTimeoutMS": server_selection_timeout_ms,
        "connectTimeoutMS": connect_timeout_ms,
        "readConcernLevel": DURABLE_READ_CONCERN_LEVEL,
        **DURABLE_WRITE_CONCERN,
    }
    if socket_timeout_ms is not None:
        defaults["socketTimeoutMS"] = socket_timeout_ms
    if wait_queue_timeout_ms is not None:
        defaults["waitQueueTimeoutMS"] = wait_queue_timeout_ms
    if timeout_ms is not None:
        defaults["timeoutMS"] = timeout_ms
    # Keyword options would override the URI's; an option the operator wrote in MONGODB_URI wins.
    in_uri = _uri_options(uri)
    if _uri_says_unacknowledged(uri):
        in_uri.add("journal")
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
