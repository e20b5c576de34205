"""The whole flow with ``PAYMENT_PROVIDER=nowpayments``, wired by the container itself: the API
on loopback creates payments at the sandbox's NOWPayments, the order shows what the buyer must
send, the sandbox's signed IPNs come back to ``/api/webhooks/nowpayments`` and the order advances
from NOWPayments' own status (wallet and transfer: the sandbox's too; in-process jobs)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.http.harness import SandboxControl
from tests.integration.http.nowpayments_api import nowpayments_api
from tests.support.orders import order_body


@pytest.fixture
async def api(sandbox: SandboxControl) -> AsyncIterator[httpx.AsyncClient]:
    await sandbox.client.put("/sandbox/config", json={"webhook_backoff_seconds": 0.05})
    async with nowpayments_api(sandbox.url) as client:
        yield client


async def _order_shows(
    client: httpx.AsyncClient, order_id: str, shows: Callable[[dict[str, Any]], object]
) -> dict[str, Any]:
    order: dict[str, Any] = {}
    for _ in range(500):
        order = (await client.get(f"/api/orders/{order_id}")).json()
        if shows(order):
            return order
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never showed it: {order}")


async def _order_becomes(client: httpx.AsyncClient, order_id: str, status: str) -> dict[str, Any]:
    order: dict[str, Any] = {}
    for _ in range(500):
        order = (await client.get(f"/api/orders/{order_id}")).json()
        if order["status"] == status:
            return order
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never became {status}: {order}")


async def _ipns(sandbox: SandboxControl, payment_id: str) -> list[dict[str, Any]]:
    ipns: list[dict[str, Any]] = (
        await sandbox.client.get(f"/sandbox/nowpayments/{payment_id}")
    ).json()["ipns"]
    return ipns


async def _ipns_delivered(sandbox: SandboxControl, payment_id: str, count: int) -> None:
    """Wait (5 s at most) until the sandbox has sent ``count`` IPNs and the service answered the
    last one 2xx."""
    ipns: list[dict[str, Any]] = []
    for _ in range(500):
        ipns = await _ipns(sandbox, payment_id)
        if len(ipns) >= count and ipns[-1]["status"] == "delivered":
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} IPNs never delivered: {ipns}")


async def test_an_order_paid_in_crypto_completes_through_the_ipn(
    sandbox: SandboxControl, api: httpx.AsyncClient
) -> None:
    ready = (await api.get("/ready")).json()
    assert ready["adapters"]["payment_gateway"] == "http"
    created = await api.post("/api/orders", json=order_body("ref-np-1"))
    assert created.status_code == 201, created.text
    order = created.json()
    payment = order["payment"]
    assert payment["checkout_url"] is None
    assert payment["pay_address"].startswith("sandbox")
    assert payment["pay_currency"] == "sol"
    assert payment["status"] == "pending"
    assert (payment["amount"], payment["currency"]) == (order["price_fiat"], "EUR")
    seen = (await sandbox.client.get(f"/sandbox/nowpayments/{payment['id']}")).json()
    assert seen["pay_amount"] == payment["pay_amount"]
    assert seen["order_id"] == order["id"]

    # An under-payment: the IPN arrives, the order stays pending.
    half = f"{float(payment['pay_amount']) / 2:.9f}"
    await sandbox.client.post(f"/sandbox/nowpayments/{payment['id']}/pay", params={"amount": half})
    await _ipns_delivered(sandbox, payment["id"], 1)
    # Not paid: the order stays pending, and keeps what was sent (for a refund) with a reason.
    underpaid = await _order_shows(api, order["id"], lambda o: o["payment"]["paid_amount"])
    assert underpaid["status"] == "pending"
    assert Decimal(underpaid["payment"]["paid_amount"]) == Decimal(half)
    assert underpaid["payment"]["paid_currency"] == "sol"
    assert underpaid["history"][-1]["status"] == "pending"
    assert underpaid["history"][-1]["reason"] == (
        f"underpaid: {underpaid['payment']['paid_amount']} sol received of "
        f"{payment['pay_amount']} sol asked; not paid"
    )

    # The rest arrives: finished, and the order completes; a duplicate IPN changes nothing.
    await sandbox.client.post(
        f"/sandbox/nowpayments/{payment['id']}/pay", params={"amount": payment["pay_amount"]}
    )
    done = await _order_becomes(api, order["id"], "completed")
    assert done["transfer"]["status"] == "confirmed"
    delivered = len(await _ipns(sandbox, payment["id"]))
    await sandbox.client.post(f"/sandbox/nowpayments/{payment['id']}/ipn")
    await _ipns_delivered(sandbox, payment["id"], delivered + 1)  # and answered by the API
    again = (await api.get(f"/api/orders/{order['id']}")).json()
    assert again["status"] == "completed"
    assert again["history"] == done["history"]
    assert (await sandbox.stats())["nowpayments_payments"] == 1


async def test_a_failed_payment_fails_the_order(
    sandbox: SandboxControl, api: httpx.AsyncClient
) -> None:
    order = (await api.post("/api/orders", json=order_body("ref-np-2"))).json()
    await sandbox.client.post(f"/sandbox/nowpayments/{order['payment']['id']}/expire")
    failed = await _order_becomes(api, order["id"], "failed_pay")
    assert failed["payment"]["status"] == "expired"


async def test_twenty_orders_with_lost_create_answers_and_duplicated_ipns_pay_once_each(
    sandbox: SandboxControl, api: httpx.AsyncClient
) -> None:
    """The exactly-once scenario (docs/nowpayments.md), in process: 20 orders; one create in 20
    (5 %) loses its answer after NOWPayments made the payment (the client retries); an
    intermediate IPN is lost and every final one is delivered twice. 20 orders, 20 payments, 20
    completed, one transfer each. (Reordered IPNs and real processes: not covered here.)"""
    await sandbox.script("nowpayments_create", "effect_then_fail")  # the first create of all
    orders: list[dict[str, Any]] = []
    for n in range(20):
        body = order_body(f"ref-np-many-{n}")
        answer = await api.post("/api/orders", json=body)
        if answer.status_code != 201:
            assert answer.status_code in (502, 504), answer.text
            answer = await api.post("/api/orders", json=body)  # the client's retry
        assert answer.status_code == 201, answer.text
        orders.append(answer.json())
    assert (await sandbox.stats())["faults"] == {"effect_then_fail": 1}
    payments = {o["payment"]["id"] for o in orders}
    assert len(payments) == 20
    assert (await sandbox.stats())["nowpayments_payments"] == 20
    for order in orders:
        payment_id = order["payment"]["id"]
        # "confirming" happens first, its IPN lost; "finished" is delivered, then again.
        await sandbox.client.post(
            f"/sandbox/nowpayments/{payment_id}/confirming", params={"ipn": "false"}
        )
        await sandbox.client.post(f"/sandbox/nowpayments/{payment_id}/pay")
        await sandbox.client.post(f"/sandbox/nowpayments/{payment_id}/ipn")
    for order in orders:
        await _order_becomes(api, order["id"], "completed")
    transfers = await sandbox.transfers()
    assert len(transfers) == 20
    assert len({t["key"] for t in transfers}) == 20
