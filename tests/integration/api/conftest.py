"""Fixtures for the API tests: the app on loopback with the fake gateway (tests/support/api.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from entrypoints.settings import Settings
from tests.support.api import Api, StartApi, api_settings, api_starter


@pytest.fixture
def settings() -> Settings:
    return api_settings()


@pytest.fixture
def gateway() -> FakePaymentGateway:
    """The zero-latency fake gateway every API test runs against; tests script its faults."""
    return FakePaymentGateway(SystemClock())


@pytest.fixture
def start_api(settings: Settings, gateway: FakePaymentGateway) -> StartApi:
    return api_starter(settings, gateway)


@pytest.fixture(scope="module")
def start_api_module() -> StartApi:
    """``start_api`` for a module-scoped server (the bad-input cases share one)."""
    return api_starter(api_settings(), FakePaymentGateway(SystemClock()))


@pytest.fixture
async def api(start_api: StartApi) -> AsyncIterator[Api]:
    async with start_api() as running:
        yield running
