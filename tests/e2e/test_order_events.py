"""Order events end to end, with real processes (``orders-service api|worker|sandbox``) on real
Redis and a Mongo-wire server: 30 orders paid through the sandbox while its merchant receiver
fails a fifth of the deliveries and the worker is SIGKILLed twice during the relay. The receiver
(which verifies every signature with its own code and dedupes by event id) ends up with every
event of every order, in sequence per order. A live stream opened on the API before payment sees
the events the worker (another process) stored.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.stack import FAST, Stack, isolated_redis, running_stack
from tests.e2e.test_end_to_end import configure_sandbox, create_orders, settle, wait_final
from tests.support.orders import e2e_order
from tests.support.sse import Frame, frames

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.mongo]

Json = dict[str, Any]
ORDERS = 30
MERCHANT_SECRET = "oesec_e2e_0123456789abcdef"
ENV = {
    **FAST,
    # ORDER_EVENTS_WEBHOOK_URL: the stack's (devstack's) sandbox receiver already.
    "ORDER_EVENTS_WEBHOOK_SECRET": MERCHANT_SECRET,
    "ORDER_EVENTS_RETRY_BASE_SECONDS": "0.2",
    "ORDER_EVENTS_RETRY_MAX_SECONDS": "1",
    "ORDER_EVENTS_STREAM_POLL_SECONDS": "0.1",
    "ORDER_EVENTS_STREAM_HEARTBEAT_SECONDS": "1",
    # A relay killed holding a delivery leaves it to the next after the lease: 10 s here.
    "HTTP_CONNECT_TIMEOUT_SECONDS": "1",
    "HTTP_READ_TIMEOUT_SECONDS": "2",
}
#: A fifth of the deliveries fail: most before the receiver records them, some after (the
#: acknowledgement lost: the relay sends the event again and the receiver dedupes it).
FAULTY_RECEIVER = {
    "latency_ms": 5,
    "webhook_backoff_seconds": 0.2,
    "faults": {},
    "merchant_fail_rate": 0.15,
    "merchant_fail_after_rate": 0.05,
}


@pytest.fixture(scope="module")
def stack(
    redis_url: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-events-logs")
    with running_stack(
        redis_url=isolated_redis(redis_url), mongodb_uri=mongo_uri, logs=logs, extra_env=ENV
    ) as running:
        yield running


async def merchant_events(client: httpx.AsyncClient, stack: Stack) -> Json:
    answer = await client.get(f"{stack.sandbox_url}/sandbox/merchant/events")
    assert answer.status_code == 200, answer.text
    seen: Json = answer.json()
    return seen


async def watch(client: httpx.AsyncClient, stack: Stack, order_id: str) -> list[Frame]:
    """A browser's live stream of the order, read until the API ends it."""
    url = f"{stack.api_url}/api/orders/{order_id}/events"
    headers = {"accept": "text/event-stream"}
    async with client.stream("GET", url, headers=headers, timeout=None) as response:
        assert response.status_code == 200
        return [frame async for frame in frames(response)]


async def test_every_event_reaches_the_merchant_signed_in_order_through_kills(
    stack: Stack,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await configure_sandbox(client, stack, FAULTY_RECEIVER)
        orders = await create_orders(
            client, stack, [e2e_order(f"ref-events-{i:02d}") for i in range(ORDERS)]
        )
        ids = [o["id"] for o in orders]
        # Connected before payment: the worker's events must reach this API process's stream.
        live = asyncio.create_task(watch(client, stack, ids[0]))
        for order in orders:
            await settle(client, stack, order["payment"]["id"], "complete")

        async def accepted() -> int:
            counters: Json = (await merchant_events(client, stack))["counters"]
            return int(counters.get("accepted", 0))

        # Two kills while the relay is at work: each after some more events arrived.
        for at_least in (20, 80):
            deadline = time.monotonic() + 60
            while await accepted() < at_least:
                assert time.monotonic() < deadline, f"relay stalled\n{stack.logs()}"
                await asyncio.sleep(0.2)
            stack.worker.kill()
            stack.restart_worker()

        final = await wait_final(client, stack, ids, seconds=120)
        assert {o["status"] for o in final.values()} == {"completed"}
        expected: dict[str, list[int]] = {}
        for order_id in ids:
            stored = await client.get(f"{stack.api_url}/api/orders/{order_id}/events")
            expected[order_id] = [e["sequence"] for e in stored.json()]
            assert [e["type"] for e in stored.json()][-1] == "order.completed"

        deadline = time.monotonic() + 90
        seen = await merchant_events(client, stack)
        while seen["orders"] != expected:
            assert time.monotonic() < deadline, (
                f"not every event arrived: {len(seen['events'])} of "
                f"{sum(map(len, expected.values()))}\n{stack.logs()}"
            )
            await asyncio.sleep(0.5)
            seen = await merchant_events(client, stack)
        frames_seen = await asyncio.wait_for(live, 30)

    counters = seen["counters"]
    # Deduped by id, each order's events arrived first in sequence 1..n, none missing.
    assert seen["orders"] == expected
    assert counters.get("gaps", 0) == 0
    # Every delivery the receiver recorded passed its own signature check; none failed it.
    assert counters.get("bad_signature", 0) == 0
    assert counters["accepted"] == sum(map(len, expected.values()))
    # The faults happened, and the lost acknowledgements were delivered again.
    assert counters["faulted"] > 0
    assert counters["duplicates"] >= counters.get("faulted_after_record", 0) > 0
    # data.order is the order as it stood after each event.
    statuses = [seen["events"][f"{ids[0]}:{n}"]["status"] for n in expected[ids[0]]]
    assert statuses[0] == "pending"
    assert statuses[-1] == "completed"
    # The live stream saw every event of the order, in sequence, then was closed.
    events = [f for f in frames_seen if not f.is_comment]
    assert [int(f.id or 0) for f in events] == expected[ids[0]]
    assert [json.loads(f.data[0])["sequence"] for f in events] == expected[ids[0]]
