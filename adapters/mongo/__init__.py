"""MongoDB adapters: the order repository, the operator's queries, the webhook log, the payment
intents and the durability probe, on PyMongo Async or Motor.

What the composition root (``entrypoints/container.py``) needs, all in this package:

``open_client(uri: str, driver: str = "pymongo", **options) -> AsyncIterator[MongoClient]``
    Async-generator resource: yields a client, closes it on shutdown. ``driver`` is
    ``Settings.mongodb_driver`` ("pymongo" = ``AsyncMongoClient``, "motor" =
    ``AsyncIOMotorClient``). No I/O until the first operation, so an unreachable server does not
    stop startup; ``ping`` / ``ensure_schema`` report it as ``InfrastructureUnavailable``.
    Create it on the event loop that will use it (the container wraps it in a Resource).
``make_client(uri, driver) -> MongoClient`` / ``await close_client(client)``
    The same without the generator, for scripts and benchmarks. Both set durable defaults
    (``w: "majority"``, ``j: true``, read concern ``majority``) and fail-fast timeouts
    (server selection 1 s); an option written in the URI wins (docs/adr/0009-durable-writes.md).
``get_database(client, name: str) -> AsyncDatabase``
    The database ``Settings.mongodb_db_name``.
``await ensure_schema(database, webhook_retention_days=90) -> SchemaReport``
    Creates/updates the ``orders`` validator (``collMod``, never a drop) and every index;
    idempotent. ``report.changed`` is False and ``str(report)`` is "up to date" when nothing
    had to change. Run at startup and by ``orders-service db-init``.
``MongoOrderRepository(database)``
    ``application.ports.OrderRepository``; ``ping()`` backs the readiness check.
``MongoOrderQueries(database)``
    ``application.ports.OrderQueries``: the operator's searches, read-only, each on an index.
``MongoWebhookEventLog(database)``
    ``application.ports.WebhookEventLog`` on ``webhook_events`` (``_id`` = event id).
``MongoPaymentIntents(database)``
    ``application.ports.PaymentIntents`` on ``payment_intents`` (``_id`` = order id): who is
    creating an order's payment at a gateway without idempotency keys (NOWPayments).
``MongoDurabilityProbe(database)``
    ``application.ports.durability.DurabilityProbe``: the write concern the deployment can
    acknowledge now, from the driver's view (no round trip).

Errors, the application's (``application.errors``): ``DuplicateOrder`` (11000, naming
``id``/``reference_id``/``payment.id``), ``StaleOrder`` (compare-and-set lost),
``InfrastructureUnavailable`` (network, timeouts: transient), ``CorruptDocument`` (a stored order
that no longer decodes, naming its id); this package's: ``ConcernRejected`` (the server cannot
give the configured write/read concern: configuration) and ``OrderDocumentRejected`` (the
validator refused a write, code 121: a bug, logged with the id).
The document shape, indexes and validator are described in docs/mongo.md.
"""

from adapters.mongo.client import (
    DRIVERS,
    DURABLE_READ_CONCERN_LEVEL,
    DURABLE_WRITE_CONCERN,
    MongoClient,
    close_client,
    get_database,
    make_client,
    open_client,
)
from adapters.mongo.codec import document_to_order, order_to_document
from adapters.mongo.durability import MongoDurabilityProbe, durability_of
from adapters.mongo.errors import ConcernRejected, OrderDocumentRejected
from adapters.mongo.events import MongoDeliveryLog, MongoEventOutbox
from adapters.mongo.payment_intents import MongoPaymentIntents
from adapters.mongo.queries import MongoOrderQueries
from adapters.mongo.repository import MongoOrderRepository
from adapters.mongo.schema import (
    DEFAULT_WEBHOOK_RETENTION_DAYS,
    INDEXES,
    ORDER_VALIDATOR,
    WEBHOOK_RETENTION_INDEX,
    SchemaReport,
    ensure_schema,
    webhook_retention_index,
)
from adapters.mongo.webhook_log import MongoWebhookEventLog

__all__ = [
    "DEFAULT_WEBHOOK_RETENTION_DAYS",
    "DRIVERS",
    "DURABLE_READ_CONCERN_LEVEL",
    "DURABLE_WRITE_CONCERN",
    "INDEXES",
    "ORDER_VALIDATOR",
    "WEBHOOK_RETENTION_INDEX",
    "ConcernRejected",
    "MongoClient",
    "MongoDeliveryLog",
    "MongoDurabilityProbe",
    "MongoEventOutbox",
    "MongoOrderQueries",
    "MongoOrderRepository",
    "MongoPaymentIntents",
    "MongoWebhookEventLog",
    "OrderDocumentRejected",
    "SchemaReport",
    "close_client",
    "document_to_order",
    "durability_of",
    "ensure_schema",
    "get_database",
    "make_client",
    "open_client",
    "order_to_document",
    "webhook_retention_index",
]
