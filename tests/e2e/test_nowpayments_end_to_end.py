"""NOWPayments end to end, with real processes (``orders-service sandbox|api|worker``) on real
Redis and a Mongo-wire server: 20 orders, each created twice at once (a double click), one create
in 20 (5 %) timing out after NOWPayments made the payment, and every payment's IPNs delivered
twice and out of order. Every order completes exactly once, with one payment and one transfer
(docs/nowpayments.md).

Every wait is a poll with a deadline: a bound against hanging, never a measure of speed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.nowpayments import sign_ipn, write_object
from tests.e2e.stack import FAST, Stack, isolated_redis, running_stack
from tests.e2e.test_end_to_end import (
    STRAIGHT_THROUGH,
    configure_sandbox,
    sandbox_stats,
    transfers_of,
    wait_final,
)
from tests.support.buyers import auth
from tests.support.orders import e2e_order as order_body

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.mongo]

Json = dict[str, Any]
ORDERS = 20
#: The sandbox's fields of a payment that NOWPayments sends as JSON numbers.
NUMBERS = ("price_amount", "pay_amount", "actually_paid", "outcome_amount")
#: One create of the 20 hangs past the API's read timeout (FAST: 3 s) after the payment exists.
KNOBS: Json = {
    "latency_ms": 5,
    "latency_jitter_ms": 10,
    "timeout_seconds": 5,
    "webhook_backoff_seconds": 0.2,
    "faults": {"nowpayments_create": {"script": ["effect_then_timeout"]}},
}


@pytest.fixture(scope="module")
def stack(
    redis_url: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-nowpayments-logs")
    with running_stack(
        redis_url=isolated_redis(redis_url),
        mongodb_uri=mongo_uri,
        logs=logs,
        # The stack wires the sandbox's NOWPayments (key, IPN secret, public URL) already.
        extra_env={**FAST, "PAYMENT_PROVIDER": "nowpayments"},
    ) as running:
        yield running


async def create_twice_at_once(
    client: httpx.AsyncClient, stack: Stack, body: Json, statuses: list[int]
) -> Json:
    """Two identical creates at once, retried (as a client does) while both answer 504; every
    answer's status goes to ``statuses``."""
    for _ in range(3):
        answers = await asyncio.gather(
            *(client.post(f"{stack.api_url}/api/orders", json=body) for _ in range(2))
        )
        statuses += [a.status_code for a in answers]
        assert {a.status_code for a in answers} <= {201, 504}, [a.text for a in answers]
        created = [a.json() for a in answers if a.status_code == 201]
        if created:
            assert len({o["id"] for o in created}) == 1
            order: Json = created[0]
            return order
    raise AssertionError(f"no 201 for {body['reference_id']}\n{stack.logs()}")


def ipn(secret: str, fields: Json) -> tuple[bytes, dict[str, str]]:
    """The IPN NOWPayments sends for ``fields`` (a payment as the sandbox shows it), signed."""
    payload: dict[str, object] = {
        k: Decimal(v) if k in NUMBERS else v
        for k, v in fields.items()
        if k not in ("history", "ipns")
    }
    headers = {"content-type": "application/json", "x-nowpayments-sig": sign_ipn(secret, payload)}
    return write_object(payload).encode(), headers


async def pay_with_ipns_out_of_order(
    client: httpx.AsyncClient, stack: Stack, payment_id: str
) -> int:
    """``confirming`` (its IPN held back), then ``finished`` (its IPN sent, then sent again),
    then the held-back ``confirming`` IPN delivered last. The API's answer to that late IPN."""
    base = f"{stack.sandbox_url}/sandbox/nowpayments/{payment_id}"
    confirming = await client.post(f"{base}/confirming", params={"ipn": "false"})
    assert confirming.status_code == 200, confirming.text
    for action in ("pay", "ipn"):
        answer = await client.post(f"{base}/{action}")
        assert answer.status_code == 200, answer.text
    body, headers = ipn(stack.env["NOWPAYMENTS_IPN_SECRET"], confirming.json())
    late = await client.post(
        f"{stack.api_url}/api/webhooks/nowpayments", content=body, headers=headers
    )
    return late.status_code


async def test_twenty_orders_complete_once_through_lost_creates_and_reordered_ipns(
    stack: Stack,
) -> None:
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=30, headers=auth()) as client:
        await configure_sandbox(client, stack, KNOBS)
        limit = asyncio.Semaphore(5)
        statuses: list[int] = []

        async def create(n: int) -> Json:
            async with limit:
                body = order_body(f"np-{run}-{n:02d}")
                return await create_twice_at_once(client, stack, body, statuses)

        orders = list(await asyncio.gather(*(create(n) for n in range(ORDERS))))
        ids = [o["id"] for o in orders]
        assert len(set(ids)) == ORDERS
        assert all(o["payment"]["pay_address"] for o in orders)
        stats = await sandbox_stats(client, stack)
        assert stats["faults"] == {"effect_then_timeout": 1}
        # The timed-out create answered 504 (its twin waited, then found the payment: 201).
        assert statuses.count(504) == 1, statuses
        assert stats["nowpayments_payments"] == ORDERS
        assert stats["calls"]["nowpayments_create"] == ORDERS

        late_answers = await asyncio.gather(
            *(pay_with_ipns_out_of_order(client, stack, o["payment"]["id"]) for o in orders)
        )
        # The late "confirming" is a notification not seen before: accepted, and harmless.
        assert late_answers == [202] * ORDERS

        final = await wait_final(client, stack, ids, seconds=60)
        assert {o["status"] for o in final.values()} == {"completed"}
        for order_id, order in final.items():
            # Through the pipeline once: no status twice, nothing parked.
            assert [h["status"] for h in order["history"]] == STRAIGHT_THROUGH, order
            listed = await client.get(
                f"{stack.sandbox_url}/sandbox/nowpayments", params={"order_id": order_id}
            )
            payments = listed.json()
            # One NOWPayments payment per order, the one the order shows, finished; its IPNs
            # (finished, twice) delivered.
            assert [str(p["payment_id"]) for p in payments] == [order["payment"]["id"]]
            assert payments[0]["payment_status"] == "finished"
            assert [i["status"] for i in payments[0]["ipns"]] == ["delivered"] * 2
        assert (await sandbox_stats(client, stack))["nowpayments_payments"] == ORDERS
        transfers = await transfers_of(client, stack, set(ids))
        assert sorted(t["key"] for t in transfers) == sorted(f"{i}:send_token" for i in ids)
