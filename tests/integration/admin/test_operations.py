"""What the people running the service rely on: rate limits (429 + Retry-After, the webhook and
probes never limited), ``/metrics`` exposed and counting, the request id on answers and on every
log line of the request."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterator

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from domain import order_id_for
from entrypoints.log_config import configure_logging, reset_logging
from tests.support.api import (
    AUTH,
    PROBLEM,
    Api,
    admin_settings,
    admin_starter,
    event_body,
    signed_headers,
)
from tests.support.orders import order_body


async def test_public_endpoints_are_limited_per_client_and_answer_429_with_retry_after() -> None:
    async with admin_starter(admin_settings(rate_limit_per_minute=3))() as api:
        for _ in range(3):
            allowed = await api.client.get("/api/orders", params={"reference_id": "x"})
            assert allowed.status_code == 404
            # The budget is told on the 429 only.
            assert not [name for name in allowed.headers if name.startswith("ratelimit-")]

        limited = await api.client.get("/api/orders", params={"reference_id": "x"})

        assert limited.status_code == 429
        assert limited.headers["content-type"] == PROBLEM
        assert limited.json()["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["ratelimit-limit"] == "3"
        assert limited.headers["ratelimit-remaining"] == "0"
        assert limited.headers["ratelimit-policy"] == "3; w=60"
        assert "x-request-id" in limited.headers
        # The same client is limited on the other public routes too, but never on the webhook,
        # the probes or /metrics.
        assert (await api.create(order_body("limited"))).status_code == 429
        for _ in range(5):
            body = event_body("evt-unknown", "pay-unknown")
            assert (await api.post_event(body, signed_headers(body))).status_code == 404
            assert (await api.client.get("/health")).status_code == 200
            assert (await api.client.get("/ready")).status_code == 200
            assert (await api.client.get("/metrics")).status_code == 200


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def _metrics(api: Api) -> str:
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def _growth(api: Api, act: Callable[[], Awaitable[None]]) -> Callable[..., float]:
    """``grew(name, **labels)``: how much a sample grew while ``act`` ran."""
    before = await _metrics(api)
    await act()
    after = await _metrics(api)

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    return grew


async def test_metrics_count_each_request_by_route_and_status(booked_api: Api) -> None:
    async def act() -> None:
        response = await booked_api.client.get("/api/orders/no-such-order")
        assert response.status_code == 404

    grew = await _growth(booked_api, act)

    route = "/api/orders/{order_id}"
    assert grew("orders_http_requests_total", method="GET", route=route, status="404") == 1
    assert grew("orders_http_request_duration_seconds_count", method="GET", route=route) == 1


async def test_metrics_count_downstream_calls_and_statuses_entered(booked_api: Api) -> None:
    async def act() -> None:
        assert (await booked_api.create(order_body("metrics-1"))).status_code == 201

    grew = await _growth(booked_api, act)

    assert (
        grew(
            "orders_downstream_calls_total",
            service="payment_gateway",
            operation="create_payment",
            outcome="ok",
        )
        == 1
    )
    assert grew("orders_status_entered_total", status="pending") >= 1


async def test_metrics_count_webhooks_by_outcome(booked_api: Api) -> None:
    created = await booked_api.create(order_body("metrics-1"))
    payment_id = created.json()["payment"]["id"]

    async def act() -> None:
        forged = event_body("evt-forged", payment_id)
        forged_headers = {"content-type": "application/json", "x-signature": "t=1,v1=" + "0" * 64}
        assert (await booked_api.post_event(forged, forged_headers)).status_code == 401
        good = event_body("evt-good", payment_id)
        assert (await booked_api.post_event(good, signed_headers(good))).status_code == 202
        assert (await booked_api.post_event(good, signed_headers(good))).status_code == 200

    grew = await _growth(booked_api, act)

    assert grew("orders_webhooks_total", outcome="bad_signature") == 1
    assert grew("orders_webhooks_total", outcome="accepted") == 1
    assert grew("orders_webhooks_total", outcome="duplicate") == 1


async def test_metrics_show_parked_orders_and_the_oldest_open_ones(booked_api: Api) -> None:
    now = await _metrics(booked_api)
    # The book holds two parked orders, and its oldest pending order is weeks old.
    assert _sample(now, "orders_parked") == 2
    assert _sample(now, "orders_oldest_open_age_seconds", status="create_wallet_fail") > 86_400
    assert _sample(now, "orders_oldest_open_age_seconds", status="pending") > 86_400


async def test_an_operator_retry_is_counted_with_the_step_retry_it_causes(booked_api: Api) -> None:
    before = await _metrics(booked_api)
    order_id = order_id_for("ref-07")  # send_token_to_smartwallet_fail, due for a retry

    response = await booked_api.client.post(f"/api/admin/orders/{order_id}/retry", headers=AUTH)
    assert response.status_code == 200
    for _ in range(100):  # the in-process scheduler runs the retry right away
        order = await booked_api.repository.get(order_id)
        assert order is not None
        if order.status.value == "completed":
            break
        await asyncio.sleep(0.01)
    after = await _metrics(booked_api)

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("orders_operator_retries_total", result="scheduled") == 1
    assert grew("orders_step_retries_total", step="send_token") == 1
    assert grew("orders_status_entered_total", status="completed") == 1
    transfer_calls = sum(
        grew("orders_downstream_calls_total", service="transfer", operation=op, outcome="ok")
        for op in ("send", "find_by_key")
    )
    assert transfer_calls >= 1


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """JSON logs into a buffer for one test, then logging as it was."""
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    configure_logging(admin_settings(log_format="json"), stream=stream)
    try:
        yield stream
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "orders-service"]:
            root.removeHandler(handler)
        root.setLevel(level)
        # Also the API's request logger, which configure_logging points at this stream.
        reset_logging()
        structlog.reset_defaults()


async def test_the_request_id_is_echoed_and_on_every_log_line_of_the_request(
    # Logging configured before the app starts, as the api command does: the app must keep it.
    json_logs: io.StringIO,
    admin_api: Api,
) -> None:
    created = await admin_api.create(order_body("logged-1"))
    order_id = created.json()["id"]
    generated = created.headers["x-request-id"]
    assert len(generated) == 32

    given = await admin_api.client.get(
        f"/api/orders/{order_id}", headers={"X-Request-ID": "req-abc.123"}
    )
    assert given.headers["x-request-id"] == "req-abc.123"
    odd = await admin_api.client.get("/health", headers={"X-Request-ID": "no spaces allowed"})
    assert odd.headers["x-request-id"] != "no spaces allowed"
    await admin_api.client.get(
        "/api/admin/orders",
        params={"status": "bogus"},
        headers={**AUTH, "X-Request-ID": "req-admin"},
    )

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.strip()]
    requests = [line for line in lines if line.get("event") == "request"]
    by_id = {line["request_id"]: line for line in requests}
    assert by_id[generated]["route"] == "/api/orders"
    assert by_id[generated]["order_id"] == order_id
    assert by_id[generated]["reference_id"] == "logged-1"
    assert by_id["req-abc.123"]["order_id"] == order_id
    assert by_id["req-abc.123"]["status"] == 200
    assert by_id["req-admin"]["status"] == 400
    assert all("timestamp" in line and "level" in line for line in lines)
    # The admin token never reaches the logs.
    assert AUTH["authorization"].split()[1] not in json_logs.getvalue()
