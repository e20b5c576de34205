"""The end-to-end proof: the API, the worker and the sandbox as separate processes
(``orders-service api|worker|sandbox``), on real Redis and a Mongo-wire server, over real HTTP.

Every wait is a poll with a deadline: a bound against hanging, never a measure of speed.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from adapters.http.webhook_signature import signature_header
from tests.e2e.stack import Stack
from tests.support.orders import e2e_order

Json = dict[str, Any]

#: The faults of the proof: 30 % of wallet and transfer calls fail, half of them after the
#: effect was applied (the answer is lost, the wallet or transfer exists).
FAULTY = {
    "latency_ms": 20,
    "latency_jitter_ms": 20,
    "webhook_backoff_seconds": 0.2,
    "faults": {
        endpoint: {"error_rate": 0.15, "effect_then_fail_rate": 0.15}
        for endpoint in ("create_wallet", "send_transfer", "get_transfer")
    },
}
CALM = {"latency_ms": 0, "webhook_backoff_seconds": 0.2, "faults": {}}
#: The statuses of one order that went through once, without a failure.
STRAIGHT_THROUGH = [
    "pending",
    "completed_pay",
    "creating_wallet",
    "sending_token_to_smartwallet",
    "completed",
]


async def eventually(
    check: Callable[[], Awaitable[bool]], *, seconds: float, what: str, stack: Stack
) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}\n{stack.logs()}")
        await asyncio.sleep(0.5)


async def configure_sandbox(client: httpx.AsyncClient, stack: Stack, knobs: Json) -> None:
    answer = await client.put(f"{stack.sandbox_url}/sandbox/config", json=knobs)
    assert answer.status_code == 200, answer.text


async def create_orders(client: httpx.AsyncClient, stack: Stack, bodies: list[Json]) -> list[Json]:
    limit = asyncio.Semaphore(10)

    async def create(body: Json) -> Json:
        async with limit:
            answer = await client.post(f"{stack.api_url}/api/orders", json=body)
        assert answer.status_code == 201, answer.text
        order: Json = answer.json()
        assert order["status"] == "pending"
        return order

    return list(await asyncio.gather(*(create(b) for b in bodies)))


async def read_order(client: httpx.AsyncClient, stack: Stack, order_id: str) -> Json:
    answer = await client.get(f"{stack.api_url}/api/orders/{order_id}")
    assert answer.status_code == 200, answer.text
    order: Json = answer.json()
    return order


async def settle(
    client: httpx.AsyncClient, stack: Stack, payment_id: str, action: str, *, webhook: bool = True
) -> None:
    answer = await client.post(
        f"{stack.sandbox_url}/sandbox/payments/{payment_id}/{action}",
        params=None if webhook else {"webhook": "false"},
    )
    assert answer.status_code == 200, answer.text


async def sandbox_stats(client: httpx.AsyncClient, stack: Stack) -> Json:
    answer = await client.get(f"{stack.sandbox_url}/sandbox/stats")
    assert answer.status_code == 200, answer.text
    stats: Json = answer.json()
    return stats


async def transfers_of(client: httpx.AsyncClient, stack: Stack, order_ids: set[str]) -> list[Json]:
    """The sandbox's transfers made under an idempotency key of one of these orders."""
    answer = await client.get(f"{stack.sandbox_url}/sandbox/transfers")
    assert answer.status_code == 200, answer.text
    return [t for t in answer.json() if t["key"].split(":", 1)[0] in order_ids]


async def wait_final(
    client: httpx.AsyncClient, stack: Stack, order_ids: list[str], seconds: float
) -> dict[str, Json]:
    """Poll until every order is ``completed`` or ``failed_pay``; their last reads."""
    final: dict[str, Json] = {}

    async def all_final() -> bool:
        for order_id in order_ids:
            if order_id not in final:
                order = await read_order(client, stack, order_id)
                if order["status"] in ("completed", "failed_pay"):
                    final[order_id] = order
        return len(final) == len(order_ids)

    try:
        await eventually(all_final, seconds=seconds, what="every order final", stack=stack)
    except AssertionError:
        left = {i: (await read_order(client, stack, i))["status"] for i in order_ids}
        raise AssertionError(f"orders not final: {left}\n{stack.logs()}") from None
    return final


async def test_fifty_orders_through_faults_and_two_worker_crashes(stack: Stack) -> None:
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=10) as client:
        await configure_sandbox(client, stack, CALM)
        orders = await create_orders(
            client,
            stack,
            [e2e_order(f"e2e-{run}-{i:02d}", amount=f"{10 + i}.{i:02d}5") for i in range(50)],
        )
        ids = [o["id"] for o in orders]
        assert len(set(ids)) == 50
        to_complete, to_fail = orders[:45], orders[45:]

        await configure_sandbox(client, stack, FAULTY)
        try:
            await asyncio.gather(
                *(settle(client, stack, o["payment"]["id"], "complete") for o in to_complete),
                *(settle(client, stack, o["payment"]["id"], "fail") for o in to_fail),
            )

            # Two crashes mid-run: SIGKILL (no shutdown code runs, jobs die mid-call), restart.
            transfers_at_kill = []
            for threshold in (3, 20):

                async def reached(threshold: int = threshold) -> bool:
                    transfers: int = (await sandbox_stats(client, stack))["transfers"]
                    return transfers >= threshold

                await eventually(
                    reached, seconds=120, what=f"{threshold} transfers made", stack=stack
                )
                stack.worker.kill()
                transfers_at_kill.append((await sandbox_stats(client, stack))["transfers"])
                stack.restart_worker()
            # The kills landed while orders were still on their way.
            assert all(count < 45 for count in transfers_at_kill), transfers_at_kill

            final = await wait_final(client, stack, ids, seconds=180)
            stats = await sandbox_stats(client, stack)
        finally:
            await configure_sandbox(client, stack, CALM)

        completed = {i for i, o in final.items() if o["status"] == "completed"}
        failed = {i for i, o in final.items() if o["status"] == "failed_pay"}
        assert completed == {o["id"] for o in to_complete}
        assert failed == {o["id"] for o in to_fail}
        assert not any(o["parked"] for o in final.values())
        # The faults really struck, before and after the effect.
        assert stats["faults"].get("error", 0) > 0, stats
        assert stats["faults"].get("effect_then_fail", 0) > 0, stats

        # Exactly one transfer per completed order, none for a failed one, none twice.
        transfers = await transfers_of(client, stack, set(ids))
        assert len(transfers) == 45, transfers
        by_order = {t["key"].split(":", 1)[0]: t for t in transfers}
        assert set(by_order) == completed
        assert len({t["id"] for t in transfers}) == 45
        for order_id in completed:
            order, transfer = final[order_id], by_order[order_id]
            assert transfer["key"] == f"{order_id}:send_token"
            assert transfer["destination"] == order["smart_wallet_address"] is not None
            assert Decimal(transfer["amount"]) == Decimal(order["amount_token"])
            assert transfer["token_symbol"] == order["token_symbol"]
            assert transfer["pool_id"] == order["pool_id"]
            assert order["transfer"]["transfer_id"] == transfer["id"]
        assert len({final[i]["smart_wallet_address"] for i in completed}) == 45
        for order_id in failed:
            assert final[order_id]["transfer"] is None
            assert final[order_id]["smart_wallet_address"] is None


def signed_event(secret: str, payment_id: str, status: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.updated",
            "created_at": datetime.now(UTC).isoformat(),
            "data": {"payment_id": payment_id, "status": status},
        }
    ).encode()
    header = signature_header([secret], int(time.time()), body)
    return body, {"content-type": "application/json", "x-signature": header}


async def test_twenty_deliveries_of_one_webhook_are_processed_once(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await configure_sandbox(client, stack, CALM)
        (order,) = await create_orders(client, stack, [e2e_order(f"dup-{uuid.uuid4().hex}")])
        payment_id = order["payment"]["id"]
        # Paid, but the sandbox sends nothing: the only webhook is the one delivered below.
        await settle(client, stack, payment_id, "complete", webhook=False)
        before = (await sandbox_stats(client, stack))["calls"]

        body, headers = signed_event(stack.webhook_secret, payment_id, "completed")
        answers = await asyncio.gather(
            *(
                client.post(f"{stack.api_url}/api/webhooks/payments", content=body, headers=headers)
                for _ in range(20)
            )
        )
        outcomes = sorted((a.status_code, a.json()["outcome"]) for a in answers)
        assert outcomes == [(200, "duplicate")] * 19 + [(202, "accepted")]

        (final,) = (await wait_final(client, stack, [order["id"]], seconds=30)).values()
        assert final["status"] == "completed"
        assert [c["status"] for c in final["history"]] == STRAIGHT_THROUGH
        # One wallet call and one transfer: the order was processed once.
        after = (await sandbox_stats(client, stack))["calls"]
        assert after.get("create_wallet", 0) - before.get("create_wallet", 0) == 1
        assert after.get("send_transfer", 0) - before.get("send_transfer", 0) == 1
        assert len(await transfers_of(client, stack, {order["id"]})) == 1


async def test_a_payment_paid_without_webhook_is_found_by_the_recheck(stack: Stack) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await configure_sandbox(client, stack, CALM)
        (order,) = await create_orders(client, stack, [e2e_order(f"lost-{uuid.uuid4().hex}")])
        payment_id = order["payment"]["id"]

        # While the payment is pending the cron keeps asking the gateway, and nothing moves.
        asked = (await sandbox_stats(client, stack))["calls"].get("get_payment", 0)

        async def asked_again() -> bool:
            calls = (await sandbox_stats(client, stack))["calls"]
            return bool(calls.get("get_payment", 0) >= asked + 2)

        await eventually(asked_again, seconds=30, what="the gateway re-asked", stack=stack)
        assert (await read_order(client, stack, order["id"]))["status"] == "pending"

        await settle(client, stack, payment_id, "complete", webhook=False)
        view = (await client.get(f"{stack.sandbox_url}/sandbox/payments/{payment_id}")).json()
        assert view["status"] == "completed"
        assert view["webhooks"] == []  # no webhook was ever sent for it

        (final,) = (await wait_final(client, stack, [order["id"]], seconds=30)).values()
        assert final["status"] == "completed"
        assert len(await transfers_of(client, stack, {order["id"]})) == 1
