"""A buyer's cancel racing the payment and its webhook, over real HTTP: the API on loopback with
the http gateway adapter, the sandbox as the gateway (and wallet and transfer services) posting
its signed webhooks back. Whoever wins at the gateway, each order ends in exactly one outcome:
completed with one transfer, or failed_pay "cancelled by the buyer" with its payment cancelled."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from entrypoints.api.app import create_app
from entrypoints.settings import Settings
from testkit.server import loopback_socket, serve_in_loop, url_of
from tests.integration.http.harness import API_KEY, WEBHOOK_SECRET, SandboxControl, running_sandbox
from tests.support.buyers import BUYER_ENV, auth
from tests.support.orders import order_body

ROUNDS = 50


Wired = tuple[httpx.AsyncClient, SandboxControl]


@pytest.fixture
async def wired() -> AsyncIterator[Wired]:
    # The API's port first: the sandbox posts its webhooks to it.
    sock = loopback_socket()
    api_url = url_of(sock)
    with running_sandbox(webhook_url=f"{api_url}/api/webhooks/payments") as sandbox_url:
        control = SandboxControl(sandbox_url)
        await control.client.put("/sandbox/config", json={"webhook_backoff_seconds": 0.05})
        settings = Settings.from_env(
            {
                "ORDERS_MODE": "dev",
                "PAYMENT_GATEWAY_URL": sandbox_url,
                "PAYMENT_GATEWAY_API_KEY": API_KEY,
                "PAYMENT_WEBHOOK_SECRETS": WEBHOOK_SECRET,
                "WALLET_API_URL": sandbox_url,
                "WALLET_API_KEY": API_KEY,
                "TRANSFER_API_URL": sandbox_url,
                "TRANSFER_API_KEY": API_KEY,
                "RATE_LIMIT_PER_MINUTE": "1000000",
                **BUYER_ENV,
            },
            runs_pipeline=True,
            serves_buyers=True,
        )
        try:
            async with (
                serve_in_loop(create_app(settings), sock=sock) as url,
                httpx.AsyncClient(base_url=url, timeout=10, headers=auth()) as client,
            ):
                yield client, control
        finally:
            await control.aclose()


async def _settled(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = {}
    for _ in range(1000):
        order = (await client.get(f"/api/orders/{order_id}")).json()
        if order["status"] in ("completed", "failed_pay"):
            return order
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never settled: {order}")


async def test_a_cancel_racing_the_payment_ends_in_exactly_one_outcome(
    wired: Wired,
) -> None:
    api, sandbox = wired
    rng = random.Random(17)
    outcomes: dict[str, int] = {"completed": 0, "failed_pay": 0}

    for n in range(ROUNDS):
        order = (await api.post("/api/orders", json=order_body(f"race-{n}"))).json()
        payment_id = order["payment"]["id"]

        async def pay(delay: float, payment_id: str = payment_id) -> int:
            await asyncio.sleep(delay)
            answer = await sandbox.client.post(f"/sandbox/payments/{payment_id}/complete")
            return answer.status_code

        async def cancel(delay: float, order_id: str = order["id"]) -> httpx.Response:
            await asyncio.sleep(delay)
            return await api.post(f"/api/orders/{order_id}/cancel")

        paid, cancelled = await asyncio.gather(
            pay(rng.uniform(0, 0.004)), cancel(rng.uniform(0, 0.004))
        )
        final = await _settled(api, order["id"])
        at_gateway = (await sandbox.client.get(f"/sandbox/payments/{payment_id}")).json()
        transfers = [t for t in await sandbox.transfers() if t["key"].startswith(order["id"])]

        if final["status"] == "completed":
            assert at_gateway["status"] == "completed", n
            assert paid == 200, n
            assert cancelled.status_code == 409, (n, cancelled.text)
            assert cancelled.json()["code"] == "not_cancellable"
            assert len(transfers) == 1, (n, transfers)
        else:
            assert final["status"] == "failed_pay", n
            assert at_gateway["status"] == "cancelled", n
            assert paid == 409, n  # the sandbox refused to take the money: not pending
            assert cancelled.status_code == 200, (n, cancelled.text)
            assert cancelled.json()["status"] == "failed_pay"
            assert final["payment"]["status"] == "cancelled"
            assert transfers == [], n
        statuses = [line["status"] for line in final["history"]]
        assert statuses.count("failed_pay") + statuses.count("completed") == 1, statuses
        outcomes[final["status"]] += 1

    # Both outcomes happened: the race was run, not won by one side every time.
    assert outcomes["completed"] > 0, outcomes
    assert outcomes["failed_pay"] > 0, outcomes
    assert sum(outcomes.values()) == ROUNDS
