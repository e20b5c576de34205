"""Refunds end to end: the API, the worker and the sandbox as separate processes on real Redis
and a Mongo-wire server. 10 payments complete after their order failed, 5 complete with another
amount or currency, 5 transfers fail on chain (3 refunded by an operator, 2 re-sent under a new
key), with 20 % faults on the refund endpoint and one worker SIGKILL while refunds are on their
way. Then: exactly 18 refunds at the gateway, one per key, each of the amount paid; 2 re-sends;
no order both refunded and completed."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.e2e.stack import FAST, Stack, isolated_redis, running_stack
from tests.support.orders import e2e_order

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.mongo]

Json = dict[str, Any]
ADMIN_TOKEN = "adm_" + secrets.token_hex(12)
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
#: 20 % of refund calls fail: half before the effect (503), half after it (the refund is made,
#: the answer is a 500); the first three fail for sure, so both kinds strike in every run. A
#: little latency everywhere, so the kill lands on calls in flight.
REFUND_FAULTS: Json = {
    "latency_ms": 15,
    "latency_jitter_ms": 15,
    "webhook_backoff_seconds": 0.2,
    "faults": {
        "refund_payment": {
            "error_rate": 0.1,
            "effect_then_fail_rate": 0.1,
            "script": ["effect_then_fail", "error", "effect_then_fail"],
        }
    },
}
#: What the 5 mismatched payments pay (the orders ask 13.10 EUR).
MISMATCHES = [("1.00", None), ("13.09", None), ("20.00", None), ("13.11", None), (None, "USD")]


@pytest.fixture(scope="module")
def refund_stack(
    redis_url: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-refund-logs")
    with running_stack(
        redis_url=isolated_redis(redis_url),
        mongodb_uri=mongo_uri,
        logs=logs,
        extra_env={**FAST, "ADMIN_TOKEN": ADMIN_TOKEN},
    ) as running:
        yield running


async def eventually(
    check: Callable[[], Awaitable[bool]], *, seconds: float, what: str, stack: Stack
) -> None:
    """Poll ``check`` until it holds (a bound against hanging, not a measure of speed)."""
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}\n{stack.logs()}")
        await asyncio.sleep(0.3)


async def configure_sandbox(client: httpx.AsyncClient, stack: Stack, knobs: Json) -> None:
    answer = await client.put(f"{stack.sandbox_url}/sandbox/config", json=knobs)
    assert answer.status_code == 200, answer.text


async def create_orders(client: httpx.AsyncClient, stack: Stack, refs: list[str]) -> list[Json]:
    async def create(reference: str) -> Json:
        answer = await client.post(f"{stack.api_url}/api/orders", json=e2e_order(reference))
        assert answer.status_code == 201, answer.text
        order: Json = answer.json()
        return order

    return list(await asyncio.gather(*(create(r) for r in refs)))


async def read_order(client: httpx.AsyncClient, stack: Stack, order_id: str) -> Json:
    answer = await client.get(f"{stack.api_url}/api/orders/{order_id}")
    assert answer.status_code == 200, answer.text
    order: Json = answer.json()
    return order


async def sandbox_stats(client: httpx.AsyncClient, stack: Stack) -> Json:
    answer = await client.get(f"{stack.sandbox_url}/sandbox/stats")
    assert answer.status_code == 200, answer.text
    stats: Json = answer.json()
    return stats


async def transfers_of(client: httpx.AsyncClient, stack: Stack, order_ids: set[str]) -> list[Json]:
    answer = await client.get(f"{stack.sandbox_url}/sandbox/transfers")
    assert answer.status_code == 200, answer.text
    return [t for t in answer.json() if t["key"].split(":", 1)[0] in order_ids]


async def _sandbox(client: httpx.AsyncClient, stack: Stack, path: str, **params: str) -> Json:
    answer = await client.post(f"{stack.sandbox_url}{path}", params=params)
    assert answer.status_code == 200, answer.text
    body: Json = answer.json()
    return body


async def _statuses(client: httpx.AsyncClient, stack: Stack, ids: list[str]) -> list[Json]:
    return list(await asyncio.gather(*(read_order(client, stack, i) for i in ids)))


async def _until(
    client: httpx.AsyncClient, stack: Stack, ids: list[str], what: str, test: Any
) -> list[Json]:
    seen: list[Json] = []

    async def holds() -> bool:
        nonlocal seen
        seen = await _statuses(client, stack, ids)
        return all(test(o) for o in seen)

    await eventually(holds, seconds=60, what=what, stack=stack)
    return seen


def _refund_is(status: str) -> Any:
    return lambda o: o["refund"] is not None and o["refund"]["status"] == status


def _one_refund_per_key_of_the_amount_paid(
    stats: Json, paid: dict[str, tuple[Decimal, str]], final: list[Json]
) -> None:
    """Exactly one refund per key, of the amount paid, for exactly the orders of ``paid``."""
    by_key = stats["refunds_by_key"]
    assert stats["refunds"] == len(paid)
    assert set(by_key) == {f"{i}:refund" for i in paid}
    payments = {o["id"]: o["payment"]["id"] for o in final}
    for order_id, (paid_amount, _) in paid.items():
        refund = by_key[f"{order_id}:refund"]
        assert Decimal(refund["amount"]) == paid_amount, (order_id, refund)
        assert refund["payment_id"] == payments[order_id]
        assert refund["status"] == "succeeded"
    for order in final:
        shown = (Decimal(order["refund"]["amount"]), order["refund"]["currency"])
        assert shown == paid[order["id"]]


async def test_eighteen_refunds_once_each_two_resends_through_faults_and_a_crash(
    refund_stack: Stack,
) -> None:
    stack = refund_stack
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=10) as client:
        await configure_sandbox(client, stack, {"webhook_backoff_seconds": 0.2})
        late, mismatched, on_chain = [
            await create_orders(client, stack, [f"rf-{run}-{k}-{i}" for i in range(n)])
            for k, n in (("late", 10), ("mis", 5), ("chain", 5))
        ]

        # 5 transfers fail on chain: the first 5 sends are theirs; each order parks.
        await configure_sandbox(
            client,
            stack,
            {
                "webhook_backoff_seconds": 0.2,
                "faults": {"send_transfer": {"script": ["failed_on_chain"] * 5}},
            },
        )
        for order in on_chain:
            await _sandbox(client, stack, f"/sandbox/payments/{order['payment']['id']}/complete")
        chain_ids = [o["id"] for o in on_chain]
        await _until(
            client,
            stack,
            chain_ids,
            "5 transfers failed on chain and parked",
            lambda o: o["status"] == "send_token_to_smartwallet_fail" and o["parked"],
        )

        # 10 payments given up on (expired), then completed late by the bank.
        for order in late:
            await _sandbox(client, stack, f"/sandbox/payments/{order['payment']['id']}/expire")
        late_ids = [o["id"] for o in late]
        await _until(
            client, stack, late_ids, "10 orders failed", lambda o: o["status"] == "failed_pay"
        )

        await configure_sandbox(client, stack, REFUND_FAULTS)
        for order in late:
            await _sandbox(
                client, stack, f"/sandbox/payments/{order['payment']['id']}/complete", late="true"
            )
        paid: dict[str, tuple[Decimal, str]] = {o["id"]: (Decimal("13.10"), "EUR") for o in late}
        # 5 paid with another amount or currency.
        for order, (amount, currency) in zip(mismatched, MISMATCHES, strict=True):
            params = {k: v for k, v in (("amount", amount), ("currency", currency)) if v}
            await _sandbox(
                client, stack, f"/sandbox/payments/{order['payment']['id']}/complete", **params
            )
            paid[order["id"]] = (Decimal(amount or "13.10"), currency or "EUR")

        # The operator: refund 3 parked transfers, re-send 2 under a new key.
        refunded_by_hand, resent = chain_ids[:3], chain_ids[3:]
        for order_id in refunded_by_hand:
            answer = await client.post(
                f"{stack.api_url}/api/admin/orders/{order_id}/refund",
                json={"reason": "transfer failed on chain; buyer refunded"},
                headers=AUTH,
            )
            assert answer.status_code == 200, answer.text
            paid[order_id] = (Decimal("13.10"), "EUR")
        for order_id in resent:
            answer = await client.post(
                f"{stack.api_url}/api/admin/orders/{order_id}/retry-transfer",
                json={"reason": "pool fixed"},
                headers=AUTH,
            )
            assert answer.status_code == 200, answer.text

        # A crash while refunds are on their way: SIGKILL, then a new worker.
        async def some_refunds() -> bool:
            return int((await sandbox_stats(client, stack))["refunds"]) >= 3

        await eventually(some_refunds, seconds=60, what="3 refunds made", stack=stack)
        refunds_at_kill = int((await sandbox_stats(client, stack))["refunds"])
        stack.worker.kill()
        stack.restart_worker()

        refund_ids = list(paid)
        final = await _until(
            client, stack, refund_ids, "18 refunds succeeded", _refund_is("succeeded")
        )
        done = await _until(
            client,
            stack,
            resent,
            "2 re-sent orders completed",
            lambda o: o["status"] == "completed",
        )
        stats = await sandbox_stats(client, stack)
        transfers = await transfers_of(client, stack, set(chain_ids))
        others = await _statuses(client, stack, late_ids + [o["id"] for o in mismatched])
        await configure_sandbox(client, stack, {"webhook_backoff_seconds": 0.2})

    assert refunds_at_kill < 18, "the kill landed after every refund was made"
    assert len(paid) == 10 + 5 + 3
    _one_refund_per_key_of_the_amount_paid(stats, paid, final)
    # The faults struck the refund endpoint, before and after the effect.
    assert stats["faults"].get("error", 0) > 0, stats
    assert stats["faults"].get("effect_then_fail", 0) > 0, stats
    # 2 re-sends: one failed transfer and one confirmed under the new key each; the refunded
    # ones have their one failed transfer only.
    keys = {t["key"]: t["status"] for t in transfers}
    for order_id in resent:
        assert keys.pop(f"{order_id}:send_token") == "failed"
        assert keys.pop(f"{order_id}:send_token:2") == "confirmed"
    assert keys == {f"{i}:send_token": "failed" for i in refunded_by_hand}
    # Never both refunded and completed.
    assert all(o["status"] != "completed" for o in final + others)
    assert all(o["refund"] is None for o in done)
    assert all(o["status"] == "failed_pay" for o in others)
