"""The API with an admin token, served on loopback (tests/support/api.py), and the order book of
``book.py`` put straight into its in-memory repository."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.admin.book import book
from tests.support.api import Api, admin_settings, admin_starter


@pytest.fixture
async def admin_api() -> AsyncIterator[Api]:
    async with admin_starter(admin_settings())() as api:
        yield api


@pytest.fixture
async def booked_api(admin_api: Api) -> Api:
    """``admin_api`` holding the book's 16 orders."""
    for order in book():
        await admin_api.repository.add(order)
    return admin_api
