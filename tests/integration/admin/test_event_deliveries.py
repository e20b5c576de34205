"""The admin's view of event deliveries and the redeliver routes, with the merchant webhook
pointed at the sandbox's receiver over real HTTP and the relay run pass by pass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import msgspec
import pytest
from dependency_injector import providers

from application.relay_events import RelayEvents
from entrypoints.api.schemas import event_webhook_body
from entrypoints.container import Container, resolve
from sandbox import SandboxKnobs
from tests.integration.http.harness import MERCHANT_EVENTS_SECRET, running_sandbox
from tests.support.api import AUTH, PROBLEM, Api, admin_settings, admin_starter
from tests.support.orders import order_body


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture
async def merchant(sandbox_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=5) as client:
        (await client.post("/sandbox/reset")).raise_for_status()
        yield client


@pytest.fixture
async def api(sandbox_url: str, merchant: httpx.AsyncClient) -> AsyncIterator[Api]:
    settings = admin_settings(
        order_events_webhook_url=f"{sandbox_url}/merchant/order-events",
        order_events_webhook_secret=MERCHANT_EVENTS_SECRET,
    )
    async with admin_starter(settings)(with_event_body) as running:
        yield running


def with_event_body(container: Container) -> None:
    """The relay runs in the worker, which gives the container the webhook's body; this test
    runs it in the API's container, so it gives it the same."""
    container.event_body.override(providers.Object(event_webhook_body))


async def relay(api: Api) -> None:
    await (await resolve(api.container.relay_events, RelayEvents)).execute()


async def states(api: Api, order_id: str) -> list[str]:
    response = await api.client.get(f"/api/admin/orders/{order_id}/events", headers=AUTH)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()
    return [
        f"{e['sequence']}:{d['subscriber']}:{d['state']}" for e in events for d in e["deliveries"]
    ]


async def received(merchant: httpx.AsyncClient) -> dict[str, Any]:
    seen: dict[str, Any] = (await merchant.get("/sandbox/merchant/events")).json()
    return seen


async def test_the_view_shows_each_subscriber_s_state_and_redeliver_sends_again(
    api: Api, merchant: httpx.AsyncClient
) -> None:
    order = (await api.create(order_body("ref-deliv"))).json()
    assert await states(api, order["id"]) == ["1:merchant_webhook:pending"]

    faulty = SandboxKnobs(merchant_fail_rate=1.0)
    (await merchant.put("/sandbox/config", content=faulty_json(faulty))).raise_for_status()
    await relay(api)
    response = await api.client.get(f"/api/admin/orders/{order['id']}/events", headers=AUTH)
    [delivery] = response.json()[0]["deliveries"]
    assert delivery["state"] == "failing"
    assert delivery["attempts"] == 1
    assert delivery["last_error"] == "HTTP 500"
    assert delivery["next_attempt_at"].endswith("Z")

    (await merchant.put("/sandbox/config", content=faulty_json(SandboxKnobs()))).raise_for_status()
    redo = await api.client.post(f"/api/admin/orders/{order['id']}/events/redeliver", headers=AUTH)
    assert redo.status_code == 200, redo.text
    await relay(api)  # due at once after the reset, whatever the backoff said
    assert await states(api, order["id"]) == ["1:merchant_webhook:delivered"]
    assert (await received(merchant))["counters"]["accepted"] == 1

    again = await api.client.post(f"/api/admin/events/{order['id']}:1/redeliver", headers=AUTH)
    assert again.status_code == 200, again.text
    assert [d["state"] for d in again.json()[0]["deliveries"]] == ["pending"]
    await relay(api)
    seen = await received(merchant)
    assert seen["counters"]["duplicates"] == 1  # the same event id, once more
    assert seen["events"][f"{order['id']}:1"]["deliveries"] == 2


def faulty_json(knobs: SandboxKnobs) -> bytes:
    return msgspec.json.encode(knobs)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/admin/orders/{id}/events/redeliver?from_sequence=2", "from_sequence"),
        ("/api/admin/orders/{id}/events/redeliver?subscriber=nobody", "subscriber"),
        ("/api/admin/events/{id}:9/redeliver", "from_sequence"),
        ("/api/admin/events/{id}/redeliver", "event_id"),
    ],
)
async def test_bad_redeliver_input_is_a_400_naming_the_field(
    api: Api, path: str, field: str
) -> None:
    order = (await api.create(order_body("ref-bad"))).json()
    response = await api.client.post(path.format(id=order["id"]), headers=AUTH)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == [field]


async def test_redeliver_needs_the_token_and_an_order(api: Api) -> None:
    assert (await api.client.post("/api/admin/orders/x/events/redeliver")).status_code == 401
    missing = await api.client.post("/api/admin/orders/nope/events/redeliver", headers=AUTH)
    assert missing.status_code == 404


async def test_redeliver_without_a_subscriber_is_a_409() -> None:
    async with admin_starter(admin_settings())() as bare:
        order = (await bare.create(order_body("ref-none"))).json()
        response = await bare.client.post(
            f"/api/admin/orders/{order['id']}/events/redeliver", headers=AUTH
        )
        assert response.status_code == 409
        assert "ORDER_EVENTS_WEBHOOK_URL" in response.json()["detail"]
        view = await bare.client.get(f"/api/admin/orders/{order['id']}/events", headers=AUTH)
        assert view.json()[0]["deliveries"] == []
