"""The API served on a free loopback port in the test's own event loop
(``testkit.server.serve_in_loop``), so a test can look into the container it runs on (in-memory
repository, fakes) between HTTP calls; the secrets, signed webhook bodies and settings the API
tests use.

Fakes are scripted through container overrides (``configure``), undone when the server stops.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from dependency_injector import providers

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from adapters.http.webhook_signature import signature_header
from adapters.memory import InMemoryOrderRepository
from application.ports import WebhookEventLog
from entrypoints.api.app import create_app
from entrypoints.container import Container
from entrypoints.settings import Settings
from testkit.server import serve_in_loop

SECRET = "whsec_current_0123456789"
OLD_SECRET = "whsec_previous_9876543210"
PROBLEM = "application/problem+json"
#: RATE_LIMIT_PER_MINUTE for tests that must never be throttled.
UNLIMITED = 1_000_000

Configure = Callable[[Container], None]


def event_body(event_id: str, payment_id: str, *, type_: str = "payment.updated") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": type_,
            "created_at": "2026-01-01T00:00:00Z",
            "data": {"payment_id": payment_id, "status": "completed"},
        }
    ).encode()


def signed_headers(
    body: bytes, *, secrets: tuple[str, ...] = (SECRET,), at: float | None = None
) -> dict[str, str]:
    timestamp = int(time.time() if at is None else at)
    return {
        "content-type": "application/json",
        "x-signature": signature_header(secrets, timestamp, body),
    }


@dataclass
class Api:
    """A running API, an HTTP client to it and the container behind it."""

    client: httpx.AsyncClient
    container: Container
    gateway: FakePaymentGateway

    @property
    def repository(self) -> InMemoryOrderRepository:
        repository = self.container.repository()
        assert isinstance(repository, InMemoryOrderRepository)
        return repository

    @property
    def webhook_log(self) -> WebhookEventLog:
        log: WebhookEventLog = self.container.webhook_log()
        return log

    async def create(self, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post("/api/orders", json=body)

    async def post_event(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post("/api/webhooks/payments", content=body, headers=headers)


class StartApi(Protocol):
    """``async with start(configure) as api``: see ``api_starter``."""

    def __call__(self, configure: Configure | None = None) -> AbstractAsyncContextManager[Api]: ...


def api_starter(settings: Settings, gateway: FakePaymentGateway) -> StartApi:
    """``async with start(configure) as api``: the app with the fake gateway (and whatever
    ``configure`` overrides) on a real port. Overrides are undone when the block ends."""

    @asynccontextmanager
    async def start(configure: Configure | None = None) -> AsyncIterator[Api]:
        seen: list[Container] = []

        def setup(container: Container) -> None:
            seen.append(container)
            container.payment_gateway.override(providers.Object(gateway))
            if configure is not None:
                configure(container)

        app = create_app(settings, configure=setup)
        try:
            async with (
                serve_in_loop(app) as url,
                httpx.AsyncClient(base_url=url, timeout=10) as client,
            ):
                yield Api(client=client, container=seen[0], gateway=gateway)
        finally:
            for container in seen:
                container.reset_override()

    return start


def api_settings(**overrides: Any) -> Settings:
    """Dev mode, both webhook secrets, a rate limit no test reaches (the limit itself is tested
    in tests/integration/admin)."""
    values: dict[str, Any] = {
        "mode": "dev",
        "payment_webhook_secrets": (SECRET, OLD_SECRET),
        "rate_limit_per_minute": UNLIMITED,
    }
    values.update(overrides)
    return Settings(**values)


ADMIN_TOKEN = "adm_3f9c1e7b5a2d4c6e8f0a1b2c"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def admin_settings(**overrides: Any) -> Settings:
    """``api_settings`` with the admin token (and only the current webhook secret)."""
    values: dict[str, Any] = {"payment_webhook_secrets": (SECRET,), "admin_token": ADMIN_TOKEN}
    values.update(overrides)
    return api_settings(**values)


def admin_starter(settings: Settings) -> StartApi:
    return api_starter(settings, FakePaymentGateway(SystemClock()))
