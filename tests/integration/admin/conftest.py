"""The API with an admin token, served on loopback (see tests/integration/api/conftest.py), and
the order book of ``book.py`` put straight into its in-memory repository."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from entrypoints.settings import Settings
from tests.buyers import BUYER_SETTINGS
from tests.integration.admin.book import book
from tests.integration.api.conftest import SECRET, UNLIMITED, Api, StartApi, api_starter

ADMIN_TOKEN = "adm_3f9c1e7b5a2d4c6e8f0a1b2c"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def admin_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "mode": "dev",
        "payment_webhook_secrets": (SECRET,),
        "admin_token": ADMIN_TOKEN,
        "rate_limit_per_minute": UNLIMITED,
        **BUYER_SETTINGS,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def starter(settings: Settings) -> StartApi:
    return api_starter(settings, FakePaymentGateway(SystemClock()))


@pytest.fixture
async def admin_api() -> AsyncIterator[Api]:
    async with starter(admin_settings())() as api:
        yield api


@pytest.fixture
async def booked_api(admin_api: Api) -> Api:
    """``admin_api`` holding the book's 16 orders."""
    for order in book():
        await admin_api.repository.add(order)
    return admin_api
