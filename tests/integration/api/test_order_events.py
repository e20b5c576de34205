"""``GET /api/orders/{id}/events``, through real HTTP (the admin's: tests/integration/admin)."""

from __future__ import annotations

import asyncio
import time

from tests.support.api import PROBLEM, Api, event_body, signed_headers
from tests.support.orders import order_body

PATH = "/api/orders/{}/events"
STRAIGHT_THROUGH = [
    "order.created",
    "order.paid",
    "order.step_started",
    "order.wallet_created",
    "order.tokens_sent",
    "order.completed",
]


async def _completed_order(api: Api) -> str:
    order = (await api.create(order_body("ref-events"))).json()
    api.gateway.complete(order["payment"]["id"])
    body = event_body("evt-events", order["payment"]["id"])
    assert (await api.post_event(body, signed_headers(body))).status_code == 202
    deadline = time.monotonic() + 30  # a bound against hanging, not a speed expectation
    while time.monotonic() < deadline:
        found = (await api.client.get(f"/api/orders/{order['id']}")).json()
        if found["status"] == "completed":
            return str(order["id"])
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order['id']} never completed")


async def test_a_new_order_has_one_event_order_created(api: Api) -> None:
    order = (await api.create(order_body("ref-1"))).json()

    response = await api.client.get(
        PATH.format(order["id"]), headers={"accept": "application/json"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    [created] = response.json()
    assert created == {
        "id": f"{order['id']}:1",
        "type": "order.created",
        "order_id": order["id"],
        "sequence": 1,
        "created_at": order["created_at"],
        "data": {"status": "pending", "reference_id": "ref-1"},
    }


async def test_a_completed_order_lists_every_event_in_sequence(api: Api) -> None:
    order_id = await _completed_order(api)

    events = (await api.client.get(PATH.format(order_id))).json()  # no Accept: JSON

    assert [e["type"] for e in events] == STRAIGHT_THROUGH
    assert [e["sequence"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e["id"] for e in events] == [f"{order_id}:{n}" for n in range(1, 7)]
    assert events[3]["data"]["address"]
    assert events[4]["data"]["transfer_status"] == "confirmed"
    assert events[-1]["data"] == {"status": "completed"}
    order = (await api.client.get(f"/api/orders/{order_id}")).json()
    assert [e["data"]["status"] for e in events if e["type"] != "order.tokens_sent"] == [
        h["status"] for h in order["history"]
    ]


async def test_an_unknown_order_is_a_404_problem(api: Api) -> None:
    response = await api.client.get(PATH.format("no-such-order"))

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "not_found"


async def test_an_accept_of_neither_json_nor_the_stream_is_a_406_problem(api: Api) -> None:
    order = (await api.create(order_body("ref-1"))).json()

    response = await api.client.get(PATH.format(order["id"]), headers={"accept": "text/html"})

    assert response.status_code == 406
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "not_acceptable"
    assert "application/json, text/event-stream" in response.json()["detail"]
