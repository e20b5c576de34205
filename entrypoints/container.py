"""The composition root: one dependency-injector container builds every object for the HTTP app,
the worker and the CLI.

:class:`Container` is the production wiring and knows only real adapters: the Mongo repository,
webhook log and queries (``MONGODB_URI``), the httpx clients of the three downstreams (their URL
and key) and SAQ on Redis (``REDIS_URL``). Nothing in this module builds a fake, an in-memory
store or the in-process scheduler: with ``ORDERS_MODE=dev`` (and only then), :func:`running`
hands the container to ``entrypoints.dev_adapters``, which puts those in for what is unset
(docs/adr/0008-orders-mode.md). In production a setting missing is refused before anything is
built.

Clients are async-generator Resources: opened by ``init_resources()`` on startup, closed by
``shutdown_resources()`` on shutdown. Once they are open, providers that depend on them return
awaitables: use :func:`resolve`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from dependency_injector import containers, providers

from adapters import http, mongo
from adapters.clock import SystemClock
from adapters.http.buyer_tokens import build_authenticator, open_jwks_client
from adapters.http.nowpayments_signature import IpnVerifier
from adapters.http.webhook_signature import WebhookVerifier, signature_header
from adapters.instrumented import (
    InstrumentedOrderRepository,
    InstrumentedPaymentGateway,
    InstrumentedTokenTransferService,
    InstrumentedWalletService,
)
from adapters.saq import DEFAULT_QUEUE_NAME, SaqJobScheduler, open_queue
from application.advance_order import AdvanceOrder
from application.cancel_order import CancelOrder
from application.check_readiness import CheckReadiness
from application.create_order import CreateOrder, IntentTimings
from application.errors import InfrastructureUnavailable
from application.get_order import GetOrder
from application.handle_payment_notification import HandlePaymentNotification
from application.list_own_orders import ListOwnOrders
from application.order_history import GetOrderHistory
from application.order_stats import (
    CachedOrderStats,
    CurrentOrderStats,
    MeasureOpenOrders,
    OrderStats,
)
from application.period_stats import PeriodOrderStats
from application.policy import OrderRetryPolicy, PipelineTimings
from application.read_own_order import ReadOwnOrder
from application.receive_webhook import ReceiveWebhook
from application.refund_order import RefundOrder
from application.relay_events import (
    ReadDeliveries,
    RedeliverEvents,
    RelayEvents,
    RelayPolicy,
)
from application.retry_order_now import RetryOrderNow
from application.retry_transfer import RetryTransfer
from application.search_orders import SearchOrders
from application.sweepers import (
    DriveRefunds,
    PollPendingPayments,
    ResumeStuckOrders,
    RetryFailedOrders,
)
from application.watch_events import open_event_streams
from domain import Order, OrderEvent
from entrypoints.settings import Settings, SettingsError

T = TypeVar("T")
log = logging.getLogger(__name__)


def _timings(settings: Settings) -> PipelineTimings:
    return PipelineTimings(
        payment_recheck=timedelta(seconds=settings.pending_recheck_seconds),
        payment_expiry_grace=timedelta(seconds=settings.payment_expiry_grace_seconds),
        stuck_step_lease=timedelta(seconds=settings.stuck_step_lease_seconds),
    )


def _order_id_key(settings: Settings) -> bytes:
    """``ORDER_ID_SECRET`` as the order-id key (unset: the unkeyed ids, which only dev allows)."""
    return settings.order_id_secret.encode("utf-8")


def _intent_timings(settings: Settings) -> IntentTimings:
    """The lease of a payment create holding its order's intent (NOWPayments, docs/adr/0012):
    room for the adapter's look (every attempt of it, timed out, with the retry waits between),
    the create's one POST, timed out too, and the insert. Derived, so it can never be shorter
    than the calls it must cover."""
    call = settings.http_connect_timeout_seconds + settings.http_read_timeout_seconds
    attempts = settings.http_max_attempts
    waits = (attempts - 1) * http.CallRetryPolicy().wait_max
    return IntentTimings(lease=timedelta(seconds=(attempts + 1) * call + waits + 2))


def _stats_refresh(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.admin_stats_refresh_seconds)


def _retry_policy(settings: Settings) -> OrderRetryPolicy:
    return OrderRetryPolicy(
        base=timedelta(seconds=settings.retry_backoff_base_seconds),
        cap=timedelta(seconds=settings.retry_backoff_max_seconds),
        max_attempts=settings.retry_max_attempts,
    )


def _send_seconds(settings: Settings) -> float:
    return settings.http_connect_timeout_seconds + settings.http_read_timeout_seconds


def _relay_policy(settings: Settings) -> RelayPolicy:
    return RelayPolicy(
        backoff=OrderRetryPolicy(
            base=timedelta(seconds=settings.order_events_retry_base_seconds),
            cap=timedelta(seconds=settings.order_events_retry_max_seconds),
            max_attempts=1,
        ),
        give_up_after=timedelta(seconds=settings.order_events_give_up_seconds),
        # Longer than one send can take (connect + read), with room: a relay that dies holding
        # a state leaves it to another after this.
        lease=timedelta(
            seconds=max(
                10.0,
                3 * (settings.http_connect_timeout_seconds + settings.http_read_timeout_seconds),
            )
        ),
    )


async def _webhook_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient | None]:
    """The merchant webhook's client; None without ``ORDER_EVENTS_WEBHOOK_URL``."""
    if not settings.order_events_webhook_url:
        yield None
        return
    async for client in http.open_webhook_client(
        connect_timeout=settings.http_connect_timeout_seconds,
        read_timeout=settings.http_read_timeout_seconds,
        max_connections=settings.worker_concurrency,
    ):
        yield client


#: What the merchant webhook carries: ``(event, the order as it stood after it) -> raw body``.
EventBody = Callable[[OrderEvent, Order], bytes]


def _subscriber_names(settings: Settings) -> list[str]:
    """The subscribers configured: the merchant webhook when its URL is set."""
    return [http.MERCHANT_WEBHOOK] if settings.order_events_webhook_url else []


def _event_subscribers(
    settings: Settings,
    webhook_client: httpx.AsyncClient | None,
    clock: SystemClock,
    body: EventBody,
) -> list[http.EventWebhookSubscriber]:
    """Where the relay delivers: the merchant webhook when its URL is set; else nowhere."""
    url, secret = settings.order_events_webhook_url, settings.order_events_webhook_secret
    if not url or webhook_client is None:
        return []

    def signature(stamp: int, body: bytes) -> str:
        return signature_header((secret,), stamp, body)

    return [
        http.EventWebhookSubscriber(
            webhook_client, url, body=body, signature=signature, clock=clock
        )
    ]


#: The kind of each adapter of the production wiring (``/ready`` and the startup line say them);
#: ``entrypoints.dev_adapters`` reports ``memory``, ``fake`` or ``inprocess`` for what it replaces.
PRODUCTION_KINDS: dict[str, str] = {
    "repository": "mongo",
    "payment_gateway": "http",
    "wallet_service": "http",
    "transfer_service": "http",
    "queue": "saq",
}


async def _mongo_client(settings: Settings) -> AsyncIterator[mongo.MongoClient | None]:
    """The Mongo client. None without ``MONGODB_URI``, which only dev mode allows (its
    in-memory stand-ins then replace everything built on it): nothing is opened."""
    if not settings.mongodb_uri:
        yield None
        return
    async for client in mongo.open_client(settings.mongodb_uri, settings.mongodb_driver):
        yield client


def _mongo_database(client: mongo.MongoClient, settings: Settings) -> Any:
    return mongo.get_database(client, settings.mongodb_db_name)


async def _http_client(
    base_url: str | None, api_key: str, settings: Settings, api_key_header: str | None = None
) -> AsyncIterator[httpx.AsyncClient | None]:
    """One pooled client per downstream (its base URL and its bearer key). None without the
    URL, which only dev mode allows (its fake then replaces the adapter): nothing is opened."""
    if not base_url:
        yield None
        return
    async for client in http.open_client(
        base_url,
        api_key,
        connect_timeout=settings.http_connect_timeout_seconds,
        read_timeout=settings.http_read_timeout_seconds,
        max_connections=settings.http_max_connections,
        api_key_header=api_key_header,
    ):
        yield client


async def _breakers(
    settings: Settings, queue_name: str = DEFAULT_QUEUE_NAME
) -> AsyncIterator[http.Breakers]:
    """The circuit breakers of every downstream: shared in Redis with ``HTTP_BREAKER_SCOPE=shared``
    (the default) when ``REDIS_URL`` is set, this process's own otherwise (and, with the shared
    ones, while Redis does not answer). Shared by the processes of one queue: whatever keeps
    deployments (or tests) apart on one Redis keeps their circuits apart too."""
    local = http.build_breakers(
        threshold=settings.http_breaker_threshold,
        reset_after_seconds=settings.http_breaker_reset_seconds,
    )
    if settings.http_breaker_scope != "shared" or not settings.redis_url:
        yield local
        return
    shared = http.SharedBreakers(
        settings.redis_url,
        local,
        threshold=settings.http_breaker_threshold,
        reset_after_seconds=settings.http_breaker_reset_seconds,
        # A trial's longest attempt: one that dies mid-call holds the trial no longer.
        trial_seconds=settings.http_connect_timeout_seconds + settings.http_read_timeout_seconds,
        key_prefix=f"{http.BREAKER_KEY_PREFIX}{queue_name}:",
    )
    await shared.open()
    try:
        yield shared
    finally:
        await shared.close()


class Container(containers.DeclarativeContainer):
    """Every object of the service, built once per process."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    timings = providers.Singleton(_timings, settings)
    retry_policy = providers.Singleton(_retry_policy, settings)

    # --- storage ---
    #: Overridden, with the adapters, by entrypoints.dev_adapters (dev mode only).
    adapter_kinds = providers.Object(PRODUCTION_KINDS)
    mongo_client = providers.Resource(_mongo_client, settings)
    mongo_database = providers.Singleton(_mongo_database, mongo_client, settings)
    repository = providers.Singleton(mongo.MongoOrderRepository, mongo_database)
    webhook_log = providers.Singleton(mongo.MongoWebhookEventLog, mongo_database)
    #: The event relay's outbox (the orders' ``relay_due_at``) and delivery states (ADR 0016).
    event_outbox = providers.Singleton(mongo.MongoEventOutbox, mongo_database)
    delivery_log = providers.Singleton(mongo.MongoDeliveryLog, mongo_database)
    #: The write concern ``/ready`` reports (None with the in-memory store).
    durability_probe = providers.Singleton(mongo.MongoDurabilityProbe, mongo_database)

    # --- downstream services ---
    #: Overridden by tests (and by anything sharing a Redis) to keep queues apart.
    saq_queue_name = providers.Object(DEFAULT_QUEUE_NAME)
    http_retry = providers.Singleton(
        http.CallRetryPolicy, attempts=settings.provided.http_max_attempts
    )
    #: One circuit per downstream for every process (Redis), or per process (docs/adr/0017).
    http_breakers = providers.Resource(_breakers, settings, saq_queue_name)
    gateway_client = providers.Resource(
        _http_client,
        settings.provided.payment_gateway_url,
        settings.provided.payment_gateway_api_key,
        settings,
    )
    wallet_client = providers.Resource(
        _http_client, settings.provided.wallet_api_url, settings.provided.wallet_api_key, settings
    )
    transfer_client = providers.Resource(
        _http_client,
        settings.provided.transfer_api_url,
        settings.provided.transfer_api_key,
        settings,
    )
    nowpayments_client = providers.Resource(
        _http_client,
        settings.provided.nowpayments_api_url,
        settings.provided.nowpayments_api_key,
        settings,
        api_key_header="x-api-key",
    )
    #: ``PAYMENT_PROVIDER`` picks the adapter of the one payment gateway port.
    payment_gateway = providers.Selector(
        settings.provided.payment_provider,
        gateway=providers.Singleton(
            http.HttpPaymentGateway, gateway_client, retry=http_retry, breakers=http_breakers
        ),
        nowpayments=providers.Singleton(
            http.NowPaymentsGateway,
            nowpayments_client,
            pay_currency=settings.provided.nowpayments_pay_currency,
            public_base_url=settings.provided.public_base_url,
            retry=http_retry,
            breakers=http_breakers,
        ),
    )
    wallet_service = providers.Singleton(
        http.HttpWalletService, wallet_client, retry=http_retry, breakers=http_breakers
    )
    transfer_service = providers.Singleton(
        http.HttpTokenTransferService, transfer_client, retry=http_retry, breakers=http_breakers
    )

    webhook_client = providers.Resource(_webhook_client, settings)
    #: The webhook's body: the order as the API shows it. The API's schema is not the
    #: container's to import: the worker, which relays, provides it (entrypoints/worker).
    event_body: providers.Dependency[EventBody] = providers.Dependency()
    event_subscribers = providers.Singleton(
        _event_subscribers, settings, webhook_client, clock, event_body
    )
    subscriber_names = providers.Callable(_subscriber_names, settings)

    # --- metrics: the use-cases get each port wrapped once (adapters/instrumented) ---
    observed_repository = providers.Singleton(InstrumentedOrderRepository, repository)
    observed_payment_gateway = providers.Singleton(InstrumentedPaymentGateway, payment_gateway)
    observed_wallet_service = providers.Singleton(InstrumentedWalletService, wallet_service)
    observed_transfer_service = providers.Singleton(
        InstrumentedTokenTransferService, transfer_service
    )

    # --- queue ---
    # Yields None without REDIS_URL (dev mode only; the in-process scheduler replaces it then).
    saq_queue = providers.Resource(open_queue, settings.provided.redis_url, saq_queue_name)
    scheduler = providers.Singleton(SaqJobScheduler, saq_queue, clock)

    # --- use-cases ---
    #: Only a gateway without idempotency keys needs a create to hold its order's intent
    #: (docs/adr/0012); the generic gateway's creates replay under their key (ADR 0001).
    payment_intents = providers.Selector(
        settings.provided.payment_provider,
        gateway=providers.Object(None),
        nowpayments=providers.Singleton(mongo.MongoPaymentIntents, mongo_database),
    )
    create_order = providers.Singleton(
        CreateOrder,
        observed_repository,
        observed_payment_gateway,
        clock,
        payment_intents,
        providers.Singleton(_intent_timings, settings),
        order_id_key=providers.Callable(_order_id_key, settings),
    )
    # Reads only: the instrumented repository counts the events a write stores; a read-only
    # use-case needs no wrapper (and the API's hottest route pays for none).
    get_order = providers.Singleton(GetOrder, repository)
    read_own_order = providers.Singleton(ReadOwnOrder, repository)
    cancel_order = providers.Singleton(
        CancelOrder, observed_repository, observed_payment_gateway, scheduler, clock
    )
    handle_payment_notification = providers.Singleton(
        HandlePaymentNotification, observed_repository, scheduler
    )
    receive_webhook = providers.Singleton(
        ReceiveWebhook, webhook_log, handle_payment_notification, clock
    )
    check_readiness = providers.Singleton(CheckReadiness, repository, scheduler, durability_probe)
    advance_order = providers.Singleton(
        AdvanceOrder,
        observed_repository,
        observed_payment_gateway,
        observed_wallet_service,
        observed_transfer_service,
        scheduler,
        clock,
        retry_policy,
        timings,
    )
    retry_failed_orders = providers.Singleton(
        RetryFailedOrders, observed_repository, scheduler, clock, timings
    )
    poll_pending_payments = providers.Singleton(
        PollPendingPayments, observed_repository, scheduler, clock, timings
    )
    resume_stuck_orders = providers.Singleton(
        ResumeStuckOrders, observed_repository, scheduler, clock, timings
    )
    drive_refunds = providers.Singleton(
        DriveRefunds, observed_repository, scheduler, clock, timings
    )
    retry_order_now = providers.Singleton(RetryOrderNow, observed_repository, scheduler, clock)
    relay_policy = providers.Singleton(_relay_policy, settings)
    relay_events = providers.Singleton(
        RelayEvents,
        repository,
        event_outbox,
        delivery_log,
        event_subscribers,
        clock,
        policy=relay_policy,
        concurrency=settings.provided.worker_concurrency,
    )
    redeliver_events = providers.Singleton(
        RedeliverEvents, repository, delivery_log, subscriber_names, clock
    )
    read_deliveries = providers.Singleton(
        ReadDeliveries, repository, delivery_log, subscriber_names
    )
    refund_order = providers.Singleton(
        RefundOrder, observed_repository, observed_transfer_service, scheduler, clock
    )
    retry_transfer = providers.Singleton(
        RetryTransfer, observed_repository, observed_transfer_service, scheduler, clock
    )

    # --- the operator's read side ---
    order_queries = providers.Singleton(mongo.MongoOrderQueries, mongo_database)
    search_orders = providers.Singleton(SearchOrders, order_queries)
    list_own_orders = providers.Singleton(ListOwnOrders, search_orders)
    # One cache per process: at most one aggregation per refresh interval (docs/operations.md).
    order_stats = providers.Singleton(
        CachedOrderStats,
        providers.Singleton(OrderStats, order_queries),
        providers.Callable(_stats_refresh, settings),
    )
    current_order_stats = providers.Singleton(CurrentOrderStats, order_stats, clock)
    measure_open_orders = providers.Singleton(MeasureOpenOrders, order_queries, clock)
    get_order_history = providers.Singleton(GetOrderHistory, repository, webhook_log)
    period_stats = providers.Singleton(PeriodOrderStats, order_queries)

    # --- the HTTP edge ---
    webhook_verifier = providers.Singleton(
        WebhookVerifier,
        settings.provided.payment_webhook_secrets,
        settings.provided.webhook_tolerance_seconds,
        clock,
    )
    ipn_verifier = providers.Singleton(IpnVerifier, settings.provided.nowpayments_ipn_secret)
    jwks_client = providers.Resource(
        open_jwks_client,
        settings.provided.jwt_jwks_url,
        settings.provided.http_read_timeout_seconds,
    )
    buyer_authenticator = providers.Singleton(
        build_authenticator,
        issuer=settings.provided.jwt_issuer,
        audience=settings.provided.jwt_audience,
        jwks_url=settings.provided.jwt_jwks_url,
        secret=settings.provided.jwt_secret,
        guest_checkout=settings.provided.guest_checkout,
        jwks_client=jwks_client,
    )
    #: The live event streams of this process (text/event-stream), ended at shutdown.
    event_streams = providers.Resource(
        open_event_streams,
        repository,
        providers.Factory(timedelta, seconds=settings.provided.order_events_stream_poll_seconds),
    )


async def _ensure_schema_once(database: Any, retention_days: int) -> bool:
    """One attempt at the validator and indexes: True when done (or refused for good: a concern
    the server cannot give is logged and left to the operator), False while Mongo is
    unreachable."""
    try:
        report = await mongo.ensure_schema(database, webhook_retention_days=retention_days)
    except InfrastructureUnavailable as exc:
        log.error("MongoDB unreachable, schema not ensured yet (retrying): %s", exc)
        return False
    except mongo.ConcernRejected as exc:
        log.critical("MongoDB refuses the configured write/read concern: %s", exc)
        return True
    log.info("MongoDB schema: %s", report)
    return True


async def _ensure_schema_until_done(
    database: Any, retention_days: int, *, every_seconds: float = 5.0
) -> None:
    """While Mongo is unreachable, say so and try again (``/ready`` reports the outage meanwhile)
    instead of crash-looping."""
    while True:
        await asyncio.sleep(every_seconds)
        if await _ensure_schema_once(database, retention_days):
            return


async def _settled(value: Any) -> Any:
    """``value``, awaited if it is awaitable: dependency-injector answers synchronously until an
    async Resource is involved, then with awaitables."""
    return await value if inspect.isawaitable(value) else value


async def resolve(provider: Any, expected: type[T]) -> T:
    """The provider's object, awaited when an async Resource stands behind it."""
    value = await _settled(provider())
    if not isinstance(value, expected):
        raise TypeError(f"container gave {type(value).__name__}, expected {expected.__name__}")
    return value


def adapters_line(settings: Settings, kinds: dict[str, str]) -> str:
    """The startup log line: the mode and the kind of every adapter."""
    listed = " ".join(f"{port}={kind}" for port, kind in kinds.items())
    if not settings.is_dev:
        return f"ORDERS_MODE=production, adapters: {listed}"
    stand_ins = [port for port, kind in kinds.items() if kind != PRODUCTION_KINDS.get(port)]
    return (
        f"ORDERS_MODE=dev, never for production: adapters: {listed}; "
        f"fake or in-memory: {', '.join(stand_ins) or 'none'}"
    )


def build_container(settings: Settings) -> Container:
    """The container for ``settings``: in production only after every real adapter is known to
    be configured (:class:`SettingsError` naming each gap otherwise); in dev mode with the
    stand-ins of ``entrypoints.dev_adapters`` for what is unset."""
    container = Container(settings=settings)
    if settings.is_dev:
        from entrypoints import dev_adapters  # noqa: PLC0415 - dev mode only

        dev_adapters.use_stand_ins(container, settings)
        return container
    problems = settings.problems(runs_pipeline=True)
    if problems:
        raise SettingsError(problems)
    return container


@asynccontextmanager
async def running(
    settings: Settings, *, configure: Callable[[Container], None] | None = None
) -> AsyncIterator[Container]:
    """A container with its resources open, closed again on exit. ``configure`` runs before
    anything is built (tests use it to override providers).

    In production every real adapter must be configured (:class:`SettingsError` otherwise,
    before anything is built); in dev mode the stand-ins of ``entrypoints.dev_adapters`` fill
    in what is unset."""
    container = build_container(settings)
    async with AsyncExitStack() as stack:
        if configure is not None:
            configure(container)
        await _settled(container.init_resources())
        stack.push_async_callback(_shutdown, container)
        kinds = await resolve(container.adapter_kinds, dict)
        log.log(
            logging.WARNING if settings.is_dev else logging.INFO, adapters_line(settings, kinds)
        )
        if settings.is_dev:
            from entrypoints import dev_adapters  # noqa: PLC0415 - dev mode only

            await stack.enter_async_context(dev_adapters.in_process_jobs(container))
        if settings.mongodb_uri:
            database = await resolve(container.mongo_database, object)
            # The first attempt before serving: no write reaches a collection before it exists
            # with its validator (and SecantusDB wedges when a journaled insert creates a
            # collection while ``create`` runs: docs/adr/0009-durable-writes.md). Bounded by
            # server selection (1-1.5 s) when Mongo is down; then retries go on in the background.
            retention = settings.webhook_event_retention_days
            if not await _ensure_schema_once(database, retention):
                schema_task = asyncio.create_task(_ensure_schema_until_done(database, retention))
                stack.push_async_callback(_cancel, schema_task)
        yield container


async def _shutdown(container: Container) -> None:
    await _settled(container.shutdown_resources())


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
