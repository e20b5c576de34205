"""``GET /api/orders/{id}/events`` as ``text/event-stream``, over real HTTP: the stored events
first (or those after ``Last-Event-ID``), then live ones, heartbeats while idle, the end once the
order is finished. (A second process's events reaching a stream: tests/e2e/test_order_events.py.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from entrypoints.settings import Settings
from tests.support.api import (
    PROBLEM,
    Api,
    StartApi,
    api_settings,
    event_body,
    signed_headers,
)
from tests.support.orders import order_body
from tests.support.sse import Frame, frames

PATH = "/api/orders/{}/events"
STREAM = {"accept": "text/event-stream"}
LIVE_AFTER_CREATED = [
    "order.paid",
    "order.step_started",
    "order.wallet_created",
    "order.tokens_sent",
    "order.completed",
]


@pytest.fixture
def settings() -> Settings:
    return api_settings(
        order_events_stream_heartbeat_seconds=0.2, order_events_stream_poll_seconds=0.05
    )


@pytest.fixture
async def api(start_api: StartApi) -> AsyncIterator[Api]:
    async with start_api() as running:
        yield running


async def pay(api: Api, order: dict[str, str], event_id: str) -> None:
    api.gateway.complete(order["payment"]["id"])  # type: ignore[index]
    body = event_body(event_id, order["payment"]["id"])  # type: ignore[index]
    assert (await api.post_event(body, signed_headers(body))).status_code == 202


async def read_until_end(response: httpx.Response, limit: float = 10.0) -> list[Frame]:
    """Every frame until the server ends the stream (bounded by ``limit`` seconds)."""

    async def collect() -> list[Frame]:
        return [frame async for frame in frames(response)]

    return await asyncio.wait_for(collect(), limit)


async def completed(api: Api, reference_id: str) -> str:
    order = (await api.create(order_body(reference_id))).json()
    await pay(api, order, f"evt-{reference_id}")
    async with api.client.stream("GET", PATH.format(order["id"]), headers=STREAM) as response:
        await read_until_end(response)  # ends once completed
    return str(order["id"])


async def test_a_client_connected_before_payment_sees_every_event_live_then_the_end(
    api: Api,
) -> None:
    order = (await api.create(order_body("ref-live"))).json()
    async with api.client.stream("GET", PATH.format(order["id"]), headers=STREAM) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = frames(response)
        first = await anext(stream)
        assert (first.id, first.event) == ("1", "order.created")
        assert json.loads(first.data[0])["id"] == f"{order['id']}:1"
        await pay(api, order, "evt-live")  # after the client is connected
        rest = await asyncio.wait_for(_events(stream), 10)
    assert [f.event for f in rest] == LIVE_AFTER_CREATED
    assert [f.id for f in rest] == ["2", "3", "4", "5", "6"]
    assert [json.loads(f.data[0])["sequence"] for f in rest] == [2, 3, 4, 5, 6]


async def _events(stream: AsyncIterator[Frame]) -> list[Frame]:
    return [f async for f in stream if not f.is_comment]


async def test_a_reconnect_with_last_event_id_resumes_without_loss_or_repeat(api: Api) -> None:
    order_id = await completed(api, "ref-resume")
    headers = {**STREAM, "last-event-id": "3"}
    async with api.client.stream("GET", PATH.format(order_id), headers=headers) as response:
        got = [f for f in await read_until_end(response) if not f.is_comment]
    assert [f.id for f in got] == ["4", "5", "6"]
    assert [f.event for f in got] == LIVE_AFTER_CREATED[2:]


async def test_an_idle_stream_sends_heartbeats(api: Api) -> None:
    order = (await api.create(order_body("ref-idle"))).json()
    async with api.client.stream("GET", PATH.format(order["id"]), headers=STREAM) as response:
        stream = frames(response)
        assert (await anext(stream)).event == "order.created"
        beat = await asyncio.wait_for(anext(stream), 5)
    assert beat.is_comment
    assert beat.comments == ["heartbeat"]


@pytest.mark.parametrize("bad", ["0", "7", "abc", "-1", "1.5", "99999999999"])
async def test_a_last_event_id_that_is_not_one_of_the_order_s_is_a_400_naming_it(
    api: Api, bad: str
) -> None:
    order_id = await completed(api, f"ref-bad-{bad}")
    response = await api.client.get(PATH.format(order_id), headers={**STREAM, "last-event-id": bad})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["Last-Event-ID"]


async def test_an_unknown_order_is_a_404_problem_not_a_stream(api: Api) -> None:
    response = await api.client.get(PATH.format("no-such-order"), headers=STREAM)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_json_stays_the_default(api: Api) -> None:
    order_id = await completed(api, "ref-json")
    for headers in ({}, {"accept": "*/*"}, {"accept": "application/json, text/event-stream"}):
        response = await api.client.get(PATH.format(order_id), headers=headers)
        assert response.headers["content-type"] == "application/json"
        assert [e["sequence"] for e in response.json()] == [1, 2, 3, 4, 5, 6]
