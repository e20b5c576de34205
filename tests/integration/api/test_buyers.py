"""Buyers over real HTTP: each sees only their own orders (by id, by reference, the list, the
events, the cancel); a reference id another buyer holds is a 409 that says nothing of it; my
orders page by page; the cancel of an unpaid order."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from adapters.fakes import FakeTokenTransferService
from tests.support.api import PROBLEM, Api, event_body, signed_headers
from tests.support.buyers import ORDER_ID_KEY, auth
from tests.support.orders import order_body

ALICE = auth("alice")
BOB = auth("bob")


async def _create(api: Api, reference_id: str, who: dict[str, str], **body: Any) -> Any:
    response = await api.client.post(
        "/api/orders", json=order_body(reference_id, **body), headers=who
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _status_becomes(api: Api, order_id: str, status: str) -> dict[str, Any]:
    for _ in range(300):
        answer = await api.client.get(f"/api/orders/{order_id}", headers=ALICE)
        found: dict[str, Any] = answer.json()
        if found["status"] == status:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never reached {status}")


async def test_each_buyer_sees_only_their_orders_everywhere(api: Api) -> None:
    alices = await _create(api, "alice-1", ALICE)
    bobs = await _create(api, "bob-1", BOB)
    client = api.client

    for mine, theirs, who in ((alices, bobs, ALICE), (bobs, alices, BOB)):
        assert (await client.get(f"/api/orders/{mine['id']}", headers=who)).json() == mine
        found = await client.get(
            "/api/orders", params={"reference_id": mine["reference_id"]}, headers=who
        )
        assert found.json() == mine
        listed = await client.get("/api/orders", headers=who)
        assert [o["id"] for o in listed.json()["orders"]] == [mine["id"]]
        events = await client.get(f"/api/orders/{mine['id']}/events", headers=who)
        assert [e["type"] for e in events.json()] == ["order.created"]

        # Someone else's order is exactly as missing as one that does not exist.
        other_by_id = await client.get(f"/api/orders/{theirs['id']}", headers=who)
        missing_by_id = await client.get("/api/orders/no-such-order", headers=who)
        other_by_reference = await client.get(
            "/api/orders", params={"reference_id": theirs["reference_id"]}, headers=who
        )
        other_events = await client.get(f"/api/orders/{theirs['id']}/events", headers=who)
        other_cancel = await client.post(f"/api/orders/{theirs['id']}/cancel", headers=who)
        for answer in (other_by_id, missing_by_id, other_by_reference, other_events, other_cancel):
            assert answer.status_code == 404, answer.text
            assert answer.headers["content-type"] == PROBLEM
            assert answer.json()["code"] == "not_found"
        assert theirs["payment"]["id"] not in other_by_id.text

    # Bob's failed cancel did nothing to Alice's order.
    assert (await client.get(f"/api/orders/{alices['id']}", headers=ALICE)).json() == alices
    assert api.gateway.cancel_calls == 0


async def test_a_reference_id_another_buyer_holds_is_a_409_that_says_nothing_of_it(
    api: Api,
) -> None:
    alices = await _create(api, "shared-ref", ALICE)

    same_body = await api.client.post("/api/orders", json=order_body("shared-ref"), headers=BOB)
    other_body = await api.client.post(
        "/api/orders", json=order_body("shared-ref", price_fiat="99"), headers=BOB
    )

    for answer in (same_body, other_body):
        assert answer.status_code == 409
        assert answer.json()["code"] == "reference_id_taken"
        for secret in (alices["id"], alices["payment"]["id"], "alice", "13.1"):
            assert secret not in answer.text
    # Both refusals are the same bytes: not even whether the bodies differ shows.
    assert same_body.json() == other_body.json()
    assert api.gateway.create_calls == 1
    # Alice's replay still works.
    replay = await api.client.post("/api/orders", json=order_body("shared-ref"), headers=ALICE)
    assert replay.status_code == 201
    assert replay.json()["id"] == alices["id"]


async def test_the_order_id_is_not_the_unkeyed_digest_of_the_reference_id(api: Api) -> None:
    from domain import order_id_for  # noqa: PLC0415 - the one thing this test compares with

    order = await _create(api, "web-0001", ALICE)

    assert order["id"] != order_id_for("web-0001")
    assert order["id"] == order_id_for("web-0001", ORDER_ID_KEY.encode())


async def test_my_orders_newest_first_page_by_page_with_filters(api: Api) -> None:
    made = [await _create(api, f"mine-{n}", ALICE) for n in range(5)]
    await _create(api, "not-mine", BOB)

    first = (await api.client.get("/api/orders", params={"limit": 2}, headers=ALICE)).json()
    second = (
        await api.client.get(
            "/api/orders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=ALICE
        )
    ).json()
    third = (
        await api.client.get(
            "/api/orders", params={"limit": 2, "cursor": second["next_cursor"]}, headers=ALICE
        )
    ).json()

    seen = [o["id"] for page in (first, second, third) for o in page["orders"]]
    assert seen == [o["id"] for o in reversed(made)]
    assert third["next_cursor"] is None
    # Bob walking Alice's cursor sees only his own orders after it (none are older).
    bobs_walk = await api.client.get(
        "/api/orders", params={"cursor": first["next_cursor"]}, headers=BOB
    )
    assert bobs_walk.json()["orders"] == []

    pending = await api.client.get("/api/orders", params={"status": "pending"}, headers=ALICE)
    completed = await api.client.get("/api/orders", params={"status": "completed"}, headers=ALICE)
    assert len(pending.json()["orders"]) == 5
    assert completed.json()["orders"] == []
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    window = await api.client.get("/api/orders", params={"created_from": later}, headers=ALICE)
    assert window.json()["orders"] == []


async def test_bad_list_parameters_are_400s_naming_them(api: Api) -> None:
    cases: list[tuple[dict[str, str], str]] = [
        ({"status": "shipped"}, "status"),
        ({"created_from": "2026-03-01T00:00:00"}, "created_from"),
        ({"created_to": "0.5"}, "created_to"),  # a Unix time is not the documented format
        (
            {"created_from": "2026-03-02T00:00:00Z", "created_to": "2026-03-01T00:00:00Z"},
            "created_from",
        ),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": "0"}, "limit"),
        ({"pool_id": "pool-1"}, "pool_id"),
        ({"reference_id": "x", "status": "pending"}, "status"),
    ]
    for params, field in cases:
        response = await api.client.get("/api/orders", params=params, headers=ALICE)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert [e["field"] for e in response.json()["errors"]] == [field], params


async def test_a_pending_order_is_cancelled_at_the_gateway_and_fails_for_the_buyer(
    api: Api,
) -> None:
    order = await _create(api, "cancel-me", ALICE)

    response = await api.client.post(f"/api/orders/{order['id']}/cancel", headers=ALICE)

    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "failed_pay"
    assert cancelled["payment"]["status"] == "cancelled"
    assert [h["status"] for h in cancelled["history"]] == ["pending", "failed_pay"]
    assert api.gateway.payments[order["payment"]["id"]].status.value == "cancelled"
    [stored] = api.repository.all()
    assert stored.history[-1].reason == "cancelled by the buyer"
    assert stored.cancel_requested_at is not None
    # The payment can no longer be completed, and the order stays failed.
    api.gateway.complete(order["payment"]["id"])
    body = event_body("evt-after-cancel", order["payment"]["id"])
    assert (await api.post_event(body, signed_headers(body))).status_code in (200, 202)
    await asyncio.sleep(0.05)
    again = await api.client.get(f"/api/orders/{order['id']}", headers=ALICE)
    assert again.json()["status"] == "failed_pay"
    # A second cancel names the status it found.
    twice = await api.client.post(f"/api/orders/{order['id']}/cancel", headers=ALICE)
    assert twice.status_code == 409
    assert twice.json()["code"] == "not_cancellable"
    assert "failed_pay" in twice.json()["detail"]


async def test_a_payment_completed_first_is_not_cancellable_and_the_order_is_fulfilled(
    api: Api,
) -> None:
    order = await _create(api, "paid-first", ALICE)
    api.gateway.complete(order["payment"]["id"])  # paid; the webhook has not arrived yet

    response = await api.client.post(f"/api/orders/{order['id']}/cancel", headers=ALICE)

    assert response.status_code == 409
    assert response.json()["code"] == "not_cancellable"
    assert "completed" in response.json()["detail"]
    # The cancel had the pipeline look at the order: it goes on to be fulfilled.
    done = await _status_becomes(api, order["id"], "completed")
    assert done["payment"]["status"] == "completed"
    transfers = api.container.transfer_service()
    assert isinstance(transfers, FakeTokenTransferService)
    assert len(transfers.transfers) == 1


async def test_an_order_past_pending_cannot_be_cancelled_the_409_names_its_status(
    api: Api,
) -> None:
    order = await _create(api, "done-already", ALICE)
    api.gateway.complete(order["payment"]["id"])
    body = event_body("evt-done", order["payment"]["id"])
    assert (await api.post_event(body, signed_headers(body))).status_code == 202
    await _status_becomes(api, order["id"], "completed")

    response = await api.client.post(f"/api/orders/{order['id']}/cancel", headers=ALICE)

    assert response.status_code == 409
    assert response.json()["code"] == "not_cancellable"
    assert "completed" in response.json()["detail"]
    assert api.gateway.cancel_calls == 0


async def test_without_a_token_every_buyer_route_is_a_401_with_a_challenge(api: Api) -> None:
    order = await _create(api, "anon", ALICE)
    async with httpx.AsyncClient(base_url=str(api.client.base_url)) as anonymous:
        answers = [
            await anonymous.post("/api/orders", json=order_body("anon-2")),
            await anonymous.get("/api/orders"),
            await anonymous.get("/api/orders", params={"reference_id": "anon"}),
            await anonymous.get(f"/api/orders/{order['id']}"),
            await anonymous.get(f"/api/orders/{order['id']}/events"),
            await anonymous.post(f"/api/orders/{order['id']}/cancel"),
        ]
    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["code"] == "token_required"
    assert api.gateway.create_calls == 1
