"""The stand-ins of ``ORDERS_MODE=dev``: in-memory storage, in-process fakes of the downstream
services and the in-process scheduler, for whatever setting is unset.

Only :func:`entrypoints.container.running` calls this, and only in dev mode: the production
wiring (``entrypoints/container.py``) never imports a fake (docs/adr/0008-orders-mode.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dependency_injector import providers

from adapters.fakes import FakePaymentGateway, FakeTokenTransferService, FakeWalletService
from adapters.memory import (
    InMemoryDeliveryLog,
    InMemoryOrderRepository,
    InMemoryPaymentIntents,
    InMemoryWebhookEventLog,
    InProcessScheduler,
)
from adapters.memory.queries import InMemoryOrderQueries
from application.advance_order import AdvanceOrder
from entrypoints.container import PRODUCTION_KINDS, Container, resolve
from entrypoints.settings import NOWPAYMENTS, Settings


def use_stand_ins(container: Container, settings: Settings) -> dict[str, str]:
    """Override, on ``container``, every adapter whose setting is unset with its stand-in; the
    kind of each adapter, as ``container.adapter_kinds`` now reports it."""
    if not settings.is_dev:
        raise RuntimeError("stand-ins are for ORDERS_MODE=dev only")
    kinds = dict(PRODUCTION_KINDS)
    if not settings.mongodb_uri:
        kinds["repository"] = "memory"
        container.repository.override(providers.Singleton(InMemoryOrderRepository))
        container.webhook_log.override(providers.Singleton(InMemoryWebhookEventLog))
        # The in-memory repository is its own outbox.
        container.event_outbox.override(container.repository)
        container.delivery_log.override(providers.Singleton(InMemoryDeliveryLog))
        container.durability_probe.override(providers.Object(None))
        container.order_queries.override(
            providers.Singleton(InMemoryOrderQueries, container.repository)
        )
        if settings.payment_provider == NOWPAYMENTS:
            container.payment_intents.override(providers.Singleton(InMemoryPaymentIntents))
    gateway_url = (
        settings.nowpayments_api_url
        if settings.payment_provider == NOWPAYMENTS
        else settings.payment_gateway_url
    )
    if not gateway_url:
        kinds["payment_gateway"] = "fake"
        container.payment_gateway.override(providers.Singleton(FakePaymentGateway, container.clock))
    if not settings.wallet_api_url:
        kinds["wallet_service"] = "fake"
        container.wallet_service.override(providers.Singleton(FakeWalletService))
    if not settings.transfer_api_url:
        kinds["transfer_service"] = "fake"
        container.transfer_service.override(providers.Singleton(FakeTokenTransferService))
    if not settings.redis_url:
        kinds["queue"] = "inprocess"
        container.scheduler.override(providers.Singleton(InProcessScheduler, container.clock))
    container.adapter_kinds.override(providers.Object(kinds))
    return kinds


@asynccontextmanager
async def in_process_jobs(container: Container) -> AsyncIterator[None]:
    """When the scheduler is the in-process one, have it run ``AdvanceOrder`` (and stop it on
    exit); nothing otherwise."""
    scheduler = await resolve(container.scheduler, object)
    if not isinstance(scheduler, InProcessScheduler):
        yield
        return
    advance = await resolve(container.advance_order, AdvanceOrder)
    scheduler.bind(advance.execute)
    try:
        yield
    finally:
        await scheduler.close()
