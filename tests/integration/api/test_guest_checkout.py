"""Guest checkout over real HTTP (``GUEST_CHECKOUT=true``): a create without a token answers a
one-time ``client_secret``, stored only as a digest, that every later read must show."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from application.buyers import client_secret_hash
from entrypoints.settings import Settings
from tests.support.api import PROBLEM, UNLIMITED, Api, api_starter
from tests.support.buyers import BUYER_SETTINGS, auth
from tests.support.orders import order_body


@pytest.fixture
async def guest_api() -> AsyncIterator[Api]:
    settings = Settings(
        mode="dev", rate_limit_per_minute=UNLIMITED, guest_checkout=True, **BUYER_SETTINGS
    )
    async with api_starter(settings, FakePaymentGateway(SystemClock()))() as api:
        yield api


@pytest.fixture
async def guest(guest_api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without an account: no Authorization header."""
    async with httpx.AsyncClient(base_url=str(guest_api.client.base_url), timeout=10) as client:
        yield client


async def test_a_guest_reads_their_order_with_the_secret_and_only_with_it(
    guest_api: Api, guest: httpx.AsyncClient
) -> None:
    created = await guest.post("/api/orders", json=order_body("guest-1"))

    assert created.status_code == 201
    order = created.json()
    secret = order["client_secret"]
    assert secret.startswith("cs_")
    assert len(secret) > 40
    [stored] = guest_api.repository.all()
    assert stored.buyer_id is None
    assert stored.client_secret_hash == client_secret_hash(secret)
    assert secret not in repr(stored)
    shown = {**order, "client_secret": None}

    by_query = await guest.get(f"/api/orders/{order['id']}", params={"client_secret": secret})
    by_header = await guest.get(f"/api/orders/{order['id']}", headers={"X-Client-Secret": secret})
    by_reference = await guest.get(
        "/api/orders", params={"reference_id": "guest-1", "client_secret": secret}
    )
    events = await guest.get(f"/api/orders/{order['id']}/events", params={"client_secret": secret})
    for answer in (by_query, by_header, by_reference):
        assert answer.status_code == 200, answer.text
        assert answer.json() == shown  # the secret is never shown again
    assert [e["type"] for e in events.json()] == ["order.created"]

    refused = [
        await guest.get(f"/api/orders/{order['id']}"),
        await guest.get(f"/api/orders/{order['id']}", params={"client_secret": secret + "x"}),
        await guest.get(f"/api/orders/{order['id']}", params={"client_secret": ""}),
        await guest.get(f"/api/orders/{order['id']}", headers={"X-Client-Secret": "x" * 128}),
        await guest.get("/api/orders", params={"reference_id": "guest-1"}),
        await guest.get(f"/api/orders/{order['id']}/events"),
        await guest.post(f"/api/orders/{order['id']}/cancel"),
        # A buyer's token is not the guest's secret.
        await guest_api.client.get(f"/api/orders/{order['id']}", headers=auth("alice")),
    ]
    for answer in refused:
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == PROBLEM


async def test_a_guest_replay_needs_the_secret_of_the_first_answer(
    guest_api: Api, guest: httpx.AsyncClient
) -> None:
    first = (await guest.post("/api/orders", json=order_body("guest-replay"))).json()

    without = await guest.post("/api/orders", json=order_body("guest-replay"))
    stranger = await guest_api.client.post(
        "/api/orders", json=order_body("guest-replay"), headers=auth("alice")
    )
    holder = await guest.post(
        "/api/orders",
        json=order_body("guest-replay"),
        headers={"X-Client-Secret": first["client_secret"]},
    )

    for answer in (without, stranger):
        assert answer.status_code == 409
        assert answer.json()["code"] == "reference_id_taken"
        assert first["id"] not in answer.text
    assert holder.status_code == 201
    assert holder.headers["idempotent-replayed"] == "true"
    assert holder.json()["id"] == first["id"]
    assert holder.json()["client_secret"] is None
    assert guest_api.gateway.create_calls == 1


async def test_a_guest_cancels_with_the_secret_and_has_no_list(
    guest_api: Api, guest: httpx.AsyncClient
) -> None:
    order = (await guest.post("/api/orders", json=order_body("guest-cancel"))).json()

    cancelled = await guest.post(
        f"/api/orders/{order['id']}/cancel", headers={"X-Client-Secret": order["client_secret"]}
    )
    listed = await guest.get("/api/orders")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "failed_pay"
    assert listed.status_code == 401
    assert listed.json()["code"] == "token_required"


async def test_buyers_with_tokens_still_own_their_orders_when_guests_may_buy(
    guest_api: Api,
) -> None:
    made = await guest_api.client.post(
        "/api/orders", json=order_body("buyer-in-guest-shop"), headers=auth("alice")
    )

    assert made.status_code == 201
    assert made.json()["client_secret"] is None
    [stored] = guest_api.repository.all()
    assert stored.buyer_id == "alice"
    assert stored.client_secret_hash is None


async def test_without_guest_checkout_a_create_without_a_token_is_a_401(api: Api) -> None:
    async with httpx.AsyncClient(base_url=str(api.client.base_url)) as anonymous:
        response = await anonymous.post("/api/orders", json=order_body("no-guests"))

    assert response.status_code == 401
    assert response.json()["code"] == "token_required"
    assert api.gateway.create_calls == 0
    assert api.repository.all() == []


async def test_an_overlong_client_secret_is_a_400_naming_it(guest: httpx.AsyncClient) -> None:
    query = await guest.get("/api/orders/x", params={"client_secret": "x" * 129})
    header = await guest.get("/api/orders/x", headers={"X-Client-Secret": "x" * 129})

    assert (query.status_code, header.status_code) == (400, 400)
    assert [e["field"] for e in query.json()["errors"]] == ["client_secret"]
    assert [e["field"] for e in header.json()["errors"]] == ["X-Client-Secret"]
