"""The sandbox's payment webhooks: signed as the contract says (checked with the service's own
verifier), redelivered with backoff until the service answers 2xx."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar, Request, Response, post
from litestar.datastructures import State

from adapters.http.webhook_signature import SignatureError, verify_signature
from sandbox import SandboxKnobs
from testkit.server import serve_in_thread
from tests.integration.http.harness import (
    API_KEY,
    WEBHOOK_SECRET,
    SandboxControl,
    running_sandbox,
)


@dataclass
class Receiver:
    """Records each delivery; answers the scripted statuses first, then 204."""

    statuses: list[int] = field(default_factory=list)
    deliveries: list[tuple[str | None, bytes]] = field(default_factory=list)


@post("/api/webhooks/payments")
async def receive(request: Request[Any, Any, Any]) -> Response[bytes]:
    receiver: Receiver = request.app.state.receiver
    receiver.deliveries.append((request.headers.get("x-signature"), await request.body()))
    status = receiver.statuses.pop(0) if receiver.statuses else 204
    return Response(b"", status_code=status)


@pytest.fixture(scope="module")
def receiver_and_sandbox() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    app = Litestar([receive], state=State({"receiver": receiver}), logging_config=None)
    with serve_in_thread(app) as receiver_url:
        knobs = SandboxKnobs(webhook_max_attempts=3, webhook_backoff_seconds=0.01)
        with running_sandbox(
            webhook_url=f"{receiver_url}/api/webhooks/payments", knobs=knobs
        ) as sandbox_url:
            yield receiver, sandbox_url


async def _new_payment(control: SandboxControl) -> str:
    answer = await control.client.post(
        "/v1/payments",
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "ref-w"},
        json={
            "reference_id": "ref-w",
            "amount": "12.50",
            "currency": "EUR",
            "description": "100 USDC",
            "metadata": {"order_id": "ord_w", "pool_id": "pool-usdc"},
        },
    )
    assert answer.status_code == 201
    payment_id: str = answer.json()["id"]
    return payment_id


async def _wait_for(predicate: Callable[[], bool]) -> None:
    # The receiver lives on another thread's loop: poll, for at most 5 s.
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out waiting for the webhook deliveries")


async def _wait_for_stats(control: SandboxControl, **expected: int) -> None:
    deadline = time.monotonic() + 5.0
    while True:
        webhooks = (await control.stats())["webhooks"]
        if all(webhooks[name] == value for name, value in expected.items()):
            return
        assert time.monotonic() < deadline, f"webhook counters stayed {webhooks}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def setup(
    receiver_and_sandbox: tuple[Receiver, str],
) -> Any:
    receiver, url = receiver_and_sandbox
    receiver.statuses.clear()
    receiver.deliveries.clear()
    control = SandboxControl(url)
    await control.reset()
    try:
        yield receiver, control
    finally:
        await control.aclose()


async def test_completing_a_payment_sends_a_signed_webhook(
    setup: tuple[Receiver, SandboxControl],
) -> None:
    receiver, control = setup
    payment_id = await _new_payment(control)

    await control.settle(payment_id, "complete")
    await _wait_for(lambda: len(receiver.deliveries) == 1)

    header, body = receiver.deliveries[0]
    verify_signature(
        header, body, [WEBHOOK_SECRET], now=time.time(), tolerance_seconds=300
    )  # raises if the signature is wrong
    with pytest.raises(SignatureError):
        verify_signature(header, body, ["another-secret"], now=time.time(), tolerance_seconds=300)
    event = json.loads(body)
    assert event["type"] == "payment.updated"
    assert event["id"].startswith("evt_")
    assert event["data"] == {"payment_id": payment_id, "status": "completed"}
    assert event["created_at"].endswith("Z")


async def test_a_refused_webhook_is_delivered_again(
    setup: tuple[Receiver, SandboxControl],
) -> None:
    receiver, control = setup
    receiver.statuses.extend([500, 503])
    payment_id = await _new_payment(control)

    await control.settle(payment_id, "fail")
    await _wait_for(lambda: len(receiver.deliveries) == 3)

    events = [json.loads(body) for _, body in receiver.deliveries]
    assert len({event["id"] for event in events}) == 1  # the same event each time
    assert events[0]["data"]["status"] == "failed"
    for header, body in receiver.deliveries:
        verify_signature(header, body, [WEBHOOK_SECRET], now=time.time(), tolerance_seconds=300)
    await _wait_for_stats(control, delivered=1)
    view = (await control.client.get(f"/sandbox/payments/{payment_id}")).json()
    assert view["webhooks"][0]["status"] == "delivered"
    assert view["webhooks"][0]["answers"] == ["500", "503", "204"]
    assert (await control.stats())["webhooks"] == {"attempts": 3, "delivered": 1, "failed": 0}


async def test_redelivery_is_bounded(setup: tuple[Receiver, SandboxControl]) -> None:
    receiver, control = setup
    receiver.statuses.extend([500, 500, 500, 500])
    payment_id = await _new_payment(control)

    await control.settle(payment_id, "complete")

    await _wait_for_stats(control, failed=1)
    assert len(receiver.deliveries) == 3  # webhook_max_attempts


async def test_a_duplicate_webhook_can_be_asked_for(
    setup: tuple[Receiver, SandboxControl],
) -> None:
    receiver, control = setup
    payment_id = await _new_payment(control)
    await control.settle(payment_id, "complete")
    await control.settle(payment_id, "webhook")
    await _wait_for(lambda: len(receiver.deliveries) == 2)
    ids = {json.loads(body)["id"] for _, body in receiver.deliveries}
    assert len(ids) == 2
    # A payment settles once.
    again = await control.client.post(f"/sandbox/payments/{payment_id}/fail")
    assert again.status_code == 409
    assert again.json() == {"error": "not_pending", "payment_status": "completed"}


async def test_a_payment_can_be_settled_without_its_webhook(
    setup: tuple[Receiver, SandboxControl],
) -> None:
    receiver, control = setup
    payment_id = await _new_payment(control)
    answer = await control.client.post(f"/sandbox/payments/{payment_id}/complete?webhook=false")
    assert answer.json()["status"] == "completed"
    assert answer.json()["webhooks"] == []
    await asyncio.sleep(0.1)
    assert receiver.deliveries == []
