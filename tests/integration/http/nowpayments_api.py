"""The API with ``PAYMENT_PROVIDER=nowpayments`` on loopback, wired by the container itself to
the sandbox's NOWPayments (and its wallet and transfer services), in dev mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from entrypoints.api.app import create_app
from entrypoints.settings import Settings
from testkit.server import loopback_socket, serve_in_loop, url_of
from tests.integration.http.harness import (
    API_KEY,
    NOWPAYMENTS_API_KEY,
    NOWPAYMENTS_IPN_SECRET,
)


@asynccontextmanager
async def nowpayments_api(
    sandbox_url: str, extra: Mapping[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API served on a port of its own (``extra``: more settings; without
    ``MONGODB_URI`` the store is in memory, without ``REDIS_URL`` jobs run in process)."""
    # The port is bound first: PUBLIC_BASE_URL (where IPNs go) must name it.
    sock = loopback_socket()
    settings = Settings.from_env(
        {
            "ORDERS_MODE": "dev",
            "PAYMENT_PROVIDER": "nowpayments",
            "NOWPAYMENTS_API_URL": sandbox_url,
            "NOWPAYMENTS_API_KEY": NOWPAYMENTS_API_KEY,
            "NOWPAYMENTS_IPN_SECRET": NOWPAYMENTS_IPN_SECRET,
            "NOWPAYMENTS_PAY_CURRENCY": "sol",
            "PUBLIC_BASE_URL": url_of(sock),
            "WALLET_API_URL": sandbox_url,
            "WALLET_API_KEY": API_KEY,
            "TRANSFER_API_URL": sandbox_url,
            "TRANSFER_API_KEY": API_KEY,
            "RATE_LIMIT_PER_MINUTE": "1000000",
            **(extra or {}),
        }
    )
    async with (
        serve_in_loop(create_app(settings), sock=sock) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as client,
    ):
        yield client
