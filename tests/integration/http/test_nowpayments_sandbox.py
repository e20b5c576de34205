"""The sandbox's NOWPayments against the service's side: its IPNs (signed by the sandbox's own,
independent signer) verify with the service's verifier, its numbers are JavaScript's (Node is the
judge), and its knobs (``case``, under-payment, late payment, duplicate IPNs) behave."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.http import NowPaymentsGateway, build_breakers, build_client
from adapters.http.nowpayments_signature import verify_ipn
from application.ports import PaymentState
from sandbox.nowpayments import js_number, write_object
from testkit.server import serve_in_thread
from tests.integration.http.harness import (
    FAST_RETRY,
    NOWPAYMENTS_API_KEY,
    NOWPAYMENTS_IPN_SECRET,
    SandboxControl,
)
from tests.support.downstream_requests import payment_request

NODE_SCRIPT = Path(__file__).parents[2] / "vectors" / "nowpayments_ipn.js"


class Receiver:
    """Takes IPNs: answers ``statuses`` in turn (then 200) and keeps every delivery."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.arrived = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                done = "startup" if message["type"] == "lifespan.startup" else "shutdown"
                await send({"type": f"lifespan.{done}.complete"})
                if done == "shutdown":
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.received.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        status = self.statuses.pop(0) if self.statuses else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Receiver]]:
    made = Receiver()
    with serve_in_thread(made) as url:
        yield url, made


@pytest.fixture
async def nowpayments(
    sandbox: SandboxControl, receiver: tuple[str, Receiver]
) -> AsyncIterator[NowPaymentsGateway]:
    receiver[1].received.clear()
    receiver[1].statuses.clear()
    await sandbox.client.put("/sandbox/config", json={"webhook_backoff_seconds": 0.01})
    client = build_client(
        sandbox.url,
        NOWPAYMENTS_API_KEY,
        connect_timeout=1.0,
        read_timeout=1.0,
        max_connections=4,
        api_key_header="x-api-key",
    )
    try:
        yield NowPaymentsGateway(
            client,
            pay_currency="sol",
            public_base_url=receiver[0],
            retry=FAST_RETRY,
            breakers=build_breakers(threshold=50),
        )
    finally:
        await client.aclose()


async def _ipns(receiver: Receiver, count: int) -> list[tuple[dict[str, str], bytes]]:
    for _ in range(500):
        if len(receiver.received) >= count:
            return receiver.received
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(receiver.received)} IPNs arrived, expected {count}")


async def test_an_ipn_from_the_sandbox_verifies_with_the_services_verifier(
    sandbox: SandboxControl, nowpayments: NowPaymentsGateway, receiver: tuple[str, Receiver]
) -> None:
    created = await nowpayments.create_payment(payment_request(), idempotency_key="ref-1")
    answer = await sandbox.client.post(f"/sandbox/nowpayments/{created.id}/pay")
    assert answer.json()["payment_status"] == "finished"
    ((headers, body),) = await _ipns(receiver[1], 1)
    assert headers["content-type"] == "application/json"
    payload = verify_ipn(headers["x-nowpayments-sig"], body, NOWPAYMENTS_IPN_SECRET)
    assert payload["payment_status"] == "finished"
    assert str(payload["payment_id"]) == created.id
    assert payload["price_amount"] == Decimal("12.5")
    assert payload["actually_paid"] == created.pay_amount
    # The body is in NOWPayments' order, not sorted: the signature covers the sorted form.
    assert list(json.loads(body))[:2] == ["payment_id", "payment_status"]
    with pytest.raises(Exception, match="does not match"):
        verify_ipn(headers["x-nowpayments-sig"], body.replace(b"finished", b"finishes"), "x")
    assert (await nowpayments.get_payment(created.id)).status is PaymentState.COMPLETED


async def test_an_under_payment_stays_pending_and_a_refused_ipn_is_sent_again(
    sandbox: SandboxControl, nowpayments: NowPaymentsGateway, receiver: tuple[str, Receiver]
) -> None:
    created = await nowpayments.create_payment(payment_request(), idempotency_key="ref-1")
    assert created.pay_amount is not None
    receiver[1].statuses.extend([500, 503])
    half = created.pay_amount / 2
    answer = await sandbox.client.post(
        f"/sandbox/nowpayments/{created.id}/pay", params={"amount": f"{half:f}"}
    )
    assert answer.json()["payment_status"] == "partially_paid"
    received = await _ipns(receiver[1], 3)
    assert len({body for _, body in received}) == 1  # the same notification, redelivered
    assert (await nowpayments.get_payment(created.id)).status is PaymentState.PENDING
    # The rest arrives: finished.
    await sandbox.client.post(
        f"/sandbox/nowpayments/{created.id}/pay", params={"amount": f"{half:f}"}
    )
    assert (await nowpayments.get_payment(created.id)).status is PaymentState.COMPLETED


async def test_a_late_payment_after_expiry_needs_the_late_knob(
    sandbox: SandboxControl, nowpayments: NowPaymentsGateway
) -> None:
    created = await nowpayments.create_payment(payment_request(), idempotency_key="ref-1")
    await sandbox.client.post(f"/sandbox/nowpayments/{created.id}/expire")
    assert (await nowpayments.get_payment(created.id)).status is PaymentState.EXPIRED
    refused = await sandbox.client.post(f"/sandbox/nowpayments/{created.id}/pay")
    assert refused.status_code == 409
    late = await sandbox.client.post(
        f"/sandbox/nowpayments/{created.id}/pay", params={"late": "true"}
    )
    assert late.json()["payment_status"] == "finished"
    assert (await nowpayments.get_payment(created.id)).status is PaymentState.COMPLETED


async def test_case_forces_the_outcome_and_sends_its_ipn(
    sandbox: SandboxControl, receiver: tuple[str, Receiver]
) -> None:
    receiver[1].received.clear()
    await sandbox.client.put("/sandbox/config", json={"nowpayments_case_delay_seconds": 0.01})
    body = (
        '{"price_amount":25.5,"price_currency":"eur","pay_currency":"sol",'
        f'"ipn_callback_url":"{receiver[0]}/ipn","order_id":"o-1",'
        '"order_description":"d","case":"fail"}'
    )
    created = await sandbox.client.post(
        "/v1/payment", content=body, headers={"x-api-key": NOWPAYMENTS_API_KEY}
    )
    assert created.status_code == 201, created.text
    assert created.json()["payment_status"] == "waiting"
    ((headers, ipn),) = await _ipns(receiver[1], 1)
    assert (
        verify_ipn(headers["x-nowpayments-sig"], ipn, NOWPAYMENTS_IPN_SECRET)["payment_status"]
        == "failed"
    )


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, "{}", 403),
        ({"x-api-key": "wrong"}, "{}", 403),
        ({"x-api-key": NOWPAYMENTS_API_KEY}, "[]", 400),
        (
            {"x-api-key": NOWPAYMENTS_API_KEY},
            '{"price_amount":-1,"price_currency":"eur","pay_currency":"sol",'
            '"ipn_callback_url":"http://x","order_id":"o"}',
            400,
        ),
        (
            {"x-api-key": NOWPAYMENTS_API_KEY},
            '{"price_amount":1,"price_currency":"EUR","pay_currency":"sol",'
            '"ipn_callback_url":"http://x","order_id":"o"}',
            400,
        ),
    ],
)
async def test_the_sandbox_refuses_bad_creates(
    sandbox: SandboxControl, headers: dict[str, str], body: str, status: int
) -> None:
    answer = await sandbox.client.post("/v1/payment", content=body, headers=headers)
    assert answer.status_code == status
    assert (await sandbox.stats())["nowpayments_payments"] == 0


def test_the_sandboxs_numbers_and_sorting_are_javascripts() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    values = [
        "0.00029",
        "25.5",
        "25.50",
        "1e-7",
        "0.000001",
        "100",
        "100.0",
        "1e21",
        "1e20",
        "123e-20",
        "0.1",
        "12.5",
        "0.083750000",
        "5077125051",
        "9007199254740993",
        "0",
        "1.7976931348623157e308",
        "5e-324",
        "0.30000000000000004",
        "123456.789e3",
    ]
    payload: dict[str, object] = {f"k{i:02d}": Decimal(v) for i, v in enumerate(values)}
    payload |= {"b": 'Café 東京 😀 " \\ \n \u2028', "a": 7, "z": None, "A": True}
    body = write_object(payload)
    done = subprocess.run(  # noqa: S603 - node on our own script
        [node, str(NODE_SCRIPT), "--canonical"],
        input=json.dumps([body]),
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=60,
    )
    (javascript,) = json.loads(done.stdout)
    assert write_object(payload, sort=True) == javascript
    for value in values:
        assert js_number(Decimal(value)) == json.loads(
            subprocess.run(  # noqa: S603 - node evaluating a number literal we wrote
                [node, "-e", f"process.stdout.write(JSON.stringify(String({value})))"],
                capture_output=True,
                text=True,
                check=True,
                timeout=60,
            ).stdout
        ), value
