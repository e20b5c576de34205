"""A hundred identical creates at once, through two APIs sharing one Mongo database, over real
HTTP to the sandbox's NOWPayments (which takes no idempotency key): one order and exactly one
NOWPayments payment (docs/adr/0012, the intent-first create)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import httpx
import pytest

from adapters.mongo import close_client, make_client
from sandbox import SandboxKnobs
from tests.integration.http.harness import SandboxControl
from tests.integration.http.nowpayments_api import nowpayments_api
from tests.support.orders import order_body

pytestmark = pytest.mark.mongo

CREATES = 100


@pytest.fixture
async def two_apis(
    sandbox: SandboxControl, mongo_uri: str
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    database = f"np_concurrent_{uuid.uuid4().hex[:12]}"
    shared = {"MONGODB_URI": mongo_uri, "MONGODB_DB_NAME": database}
    try:
        async with AsyncExitStack() as stack:
            # One after the other: the first ensures the schema before the second starts.
            first = await stack.enter_async_context(nowpayments_api(sandbox.url, shared))
            second = await stack.enter_async_context(nowpayments_api(sandbox.url, shared))
            yield first, second
    finally:
        client = make_client(mongo_uri)
        await client.drop_database(database)
        await close_client(client)


async def test_a_hundred_identical_creates_make_one_nowpayments_payment(
    sandbox: SandboxControl, two_apis: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    # Every NOWPayments call takes 100-150 ms: the creates overlap the one that calls.
    await sandbox.configure(SandboxKnobs(latency_ms=100, latency_jitter_ms=50))
    body = order_body("ref-np-race")
    answers = await asyncio.gather(
        *(two_apis[n % 2].post("/api/orders", json=body) for n in range(CREATES))
    )
    assert [a.status_code for a in answers] == [201] * CREATES, {a.text for a in answers}
    orders = [a.json() for a in answers]
    assert len({o["id"] for o in orders}) == 1
    assert len({o["payment"]["id"] for o in orders}) == 1
    assert sum(a.headers.get("idempotent-replayed") != "true" for a in answers) == 1
    stats = await sandbox.stats()
    assert stats["nowpayments_payments"] == 1
    assert stats["calls"]["nowpayments_create"] == 1
    # The one create that called looked for an earlier payment first; nobody else called.
    assert stats["calls"]["nowpayments_list"] == 1
