"""``/api/admin`` over real HTTP: authentication, every filter, cursor pages, bad parameters,
an order's history with its webhook events, the stats and the retry."""

from __future__ import annotations

from typing import Any

import httpx

from domain import OrderStatus, order_id_for
from tests.integration.admin.book import SPECS
from tests.support.api import (
    ADMIN_TOKEN,
    AUTH,
    PROBLEM,
    Api,
    admin_settings,
    admin_starter,
    event_body,
    signed_headers,
)
from tests.support.orders import order_body


async def _list(api: Api, params: Any) -> httpx.Response:
    return await api.client.get("/api/admin/orders", params=params, headers=AUTH)


def _refs(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [o["reference_id"] for o in response.json()["orders"]]


async def test_every_admin_route_needs_the_bearer_token(booked_api: Api) -> None:
    order_id = order_id_for("ref-06")
    routes = [
        ("GET", "/api/admin/orders"),
        ("GET", f"/api/admin/orders/{order_id}/history"),
        ("GET", f"/api/admin/orders/{order_id}/events"),
        ("GET", "/api/admin/stats"),
        ("POST", f"/api/admin/orders/{order_id}/retry"),
    ]
    wrong = [
        {},
        {"authorization": "Bearer"},
        {"authorization": f"Bearer {ADMIN_TOKEN[:-1]}"},
        {"authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"authorization": f"Basic {ADMIN_TOKEN}"},
        {"authorization": ADMIN_TOKEN},
    ]
    for method, path in routes:
        for headers in wrong:
            response = await booked_api.client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["content-type"] == PROBLEM
    # Nothing was retried by the refused POSTs.
    parked = await booked_api.repository.get(order_id)
    assert parked is not None
    assert parked.parked

    assert (await booked_api.client.get("/api/admin/stats", headers=AUTH)).status_code == 200
    # The public order endpoints stay public.
    public = await booked_api.client.get(f"/api/orders/{order_id}")
    assert public.status_code == 200


async def test_without_an_admin_token_configured_the_admin_api_is_closed() -> None:
    async with admin_starter(admin_settings(admin_token=""))() as api:
        for headers in ({}, {"authorization": "Bearer"}, {"authorization": "Bearer x"}):
            response = await api.client.get("/api/admin/orders", headers=headers)
            assert response.status_code == 401
            assert "ADMIN_TOKEN is not set" in response.json()["detail"]


async def test_each_filter_selects_what_the_book_says(booked_api: Api) -> None:
    def expect(keep: Any) -> set[str]:
        return {f"ref-{s.n:02d}" for s in SPECS if keep(s)}

    cases: list[tuple[Any, Any]] = [
        (
            {"status": ["completed", "pending"]},
            lambda s: s.status in {OrderStatus.COMPLETED, OrderStatus.PENDING},
        ),
        (
            {"status": "completed_pay,creating_wallet"},
            lambda s: s.status in {OrderStatus.COMPLETED_PAY, OrderStatus.CREATING_WALLET},
        ),
        ({"pool_id": "pool-b"}, lambda s: s.pool == "pool-b"),
        ({"token_symbol": "SOL"}, lambda s: s.token == "SOL"),
        ({"fiat_currency": "USD"}, lambda s: s.currency == "USD"),
        (
            {"created_from": "2026-02-04T08:00:00Z", "created_to": "2026-03-01T08:00:00+00:00"},
            lambda s: 25 <= s.day < 50,
        ),
        (
            {"min_price_fiat": "10.5", "max_price_fiat": "42"},
            lambda s: 10.5 <= float(s.price) <= 42,
        ),
        ({"parked": "true"}, lambda s: s.parked),
        ({"parked": "false"}, lambda s: True),
    ]
    for params, keep in cases:
        got = _refs(await _list(booked_api, {**params, "limit": 200}))
        assert set(got) == expect(keep), params
        assert len(got) == len(set(got))

    by_price = _refs(await _list(booked_api, {"sort": "price_fiat", "direction": "asc"}))
    prices = [next(s.price for s in SPECS if f"ref-{s.n:02d}" == r) for r in by_price]
    assert [float(p) for p in prices] == sorted(float(p) for p in prices)
    newest_first = _refs(await _list(booked_api, {}))
    assert newest_first[0] == "ref-16"
    assert newest_first[-1] in {"ref-01", "ref-02"}


async def test_pages_are_stable_while_orders_are_created(booked_api: Api) -> None:
    everything = _refs(await _list(booked_api, {"limit": 200}))
    seen: list[str] = []
    cursor = None
    created = 0
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        response = await _list(booked_api, params)
        body = response.json()
        seen += _refs(response)
        # An order arrives between every two pages.
        made = await booked_api.create(order_body(f"new-{created}"))
        assert made.status_code == 201
        created += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == everything  # nothing skipped, nothing twice, the new ones not mixed in
    assert created == 4

    # A cursor belongs to its sort order.
    first = (await _list(booked_api, {"limit": 2})).json()
    other = await _list(
        booked_api, {"limit": 2, "sort": "price_fiat", "cursor": first["next_cursor"]}
    )
    assert other.status_code == 400
    assert other.json()["errors"][0]["field"] == "cursor"
    flipped = await _list(
        booked_api, {"limit": 2, "direction": "asc", "cursor": first["next_cursor"]}
    )
    assert flipped.status_code == 400


async def test_every_bad_parameter_is_a_400_naming_it(booked_api: Api) -> None:
    cases = [
        ({"status": "shipped"}, "status"),
        ({"status": "completed,"}, "status"),
        (
            {"created_from": "2026-03-01T00:00:00Z", "created_to": "2026-02-01T00:00:00Z"},
            "created_from",
        ),
        ({"created_from": "2026-03-01"}, "created_from"),
        ({"created_to": "yesterday"}, "created_to"),
        ({"created_to": "0001-01-01T00:00:00+14:00"}, "created_to"),
        ({"min_price_fiat": "50", "max_price_fiat": "10"}, "min_price_fiat"),
        ({"min_price_fiat": "1e5"}, "min_price_fiat"),
        ({"max_price_fiat": "-1"}, "max_price_fiat"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJ2IjoxfQ"}, "cursor"),  # base64 JSON, but not ours
        ({"limit": "201"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"fiat_currency": "eur"}, "fiat_currency"),
        ({"sort": "amount"}, "sort"),
        ({"direction": "up"}, "direction"),
        ({"parked": "yes"}, "parked"),
        ({"pool_id": ""}, "pool_id"),
        ({"stauts": "completed"}, "stauts"),
        ({"limit": ["5", "6"]}, "limit"),
    ]
    for params, name in cases:
        response = await _list(booked_api, params)
        assert response.status_code == 400, (params, response.text)
        assert response.headers["content-type"] == PROBLEM
        body = response.json()
        assert body["code"] == "invalid_parameter"
        assert body["errors"][0]["field"] == name, params


async def test_history_shows_the_status_history_and_the_webhook_events(admin_api: Api) -> None:
    created = await admin_api.create(order_body("hist-1"))
    order = created.json()
    payment_id = order["payment"]["id"]
    body = event_body("evt-hist-1", payment_id)
    assert (await admin_api.post_event(body, signed_headers(body))).status_code == 202
    assert (await admin_api.post_event(body, signed_headers(body))).status_code == 200

    response = await admin_api.client.get(f"/api/admin/orders/{order['id']}/history", headers=AUTH)

    assert response.status_code == 200
    history = response.json()
    assert history["order"]["id"] == order["id"]
    assert history["order"]["history"][0]["status"] == "pending"
    events = history["webhook_events"]
    assert [e["event_id"] for e in events] == ["evt-hist-1"]
    assert events[0]["outcome"] == "accepted"
    assert payment_id in events[0]["payload"]
    missing = await admin_api.client.get("/api/admin/orders/nope/history", headers=AUTH)
    assert missing.status_code == 404


async def test_stats_over_http(booked_api: Api) -> None:
    response = await booked_api.client.get("/api/admin/stats", headers=AUTH)

    assert response.status_code == 200
    stats = response.json()
    assert stats["total"] == 16
    # Computed for this first request; a second one within the interval answers the same
    # figures (same as_of) from the cache.
    assert stats["as_of"] <= stats["at"]
    again = (await booked_api.client.get("/api/admin/stats", headers=AUTH)).json()
    assert again["as_of"] == stats["as_of"]
    assert again["total"] == 16
    assert stats["by_status"]["completed"] == 6
    assert stats["by_status"]["completed_pay"] == 1
    assert set(stats["by_status"]) == {s.value for s in OrderStatus}
    assert stats["parked"] == 2
    assert stats["payment_success_rate"] == "0.8571"  # 12 paid / 14 decided
    assert stats["completion_rate"] == "0.5000"  # 6 / 12
    assert stats["paid_to_completed_avg_seconds"] == "10.000"  # (4+6+10+2+30+8) / 6
    assert stats["paid_to_completed_p95_seconds"] == "30.000"
    assert stats["oldest_open"]["pending"]["reference_id"] == "ref-04"
    assert float(stats["oldest_open"]["pending"]["age_seconds"]) > 0
    assert "completed" not in stats["oldest_open"]
    january_usd = next(
        m for m in stats["months"] if (m["month"], m["currency"]) == ("2026-01", "USD")
    )
    assert january_usd == {
        "month": "2026-01",
        "currency": "USD",
        "orders": 2,
        "paid_orders": 1,
        "paid_volume": "250.0001",
    }


async def test_retry_unparks_a_failed_order_and_refuses_a_finished_one(booked_api: Api) -> None:
    parked_id = order_id_for("ref-06")  # create_wallet_fail, parked

    response = await booked_api.client.post(f"/api/admin/orders/{parked_id}/retry", headers=AUTH)

    assert response.status_code == 200, response.text
    assert response.json()["parked"] is False
    order = await booked_api.repository.get(parked_id)
    assert order is not None
    assert not order.parked
    assert any("operator" in line.reason for line in order.history)

    done = await booked_api.client.post(
        f"/api/admin/orders/{order_id_for('ref-01')}/retry", headers=AUTH
    )
    assert done.status_code == 409
    unknown = await booked_api.client.post("/api/admin/orders/nope/retry", headers=AUTH)
    assert unknown.status_code == 404


async def test_a_deeply_nested_body_on_an_admin_route_is_no_500(booked_api: Api) -> None:
    # The retry takes no body: a hostile one is never decoded, the route answers as usual.
    deep = b"[" * 1000 + b"]" * 1000
    response = await booked_api.client.post(
        f"/api/admin/orders/{order_id_for('ref-01')}/retry",
        content=deep,
        headers={**AUTH, "content-type": "application/json"},
    )

    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_admin_lists_the_events_behind_the_admin_token(admin_api: Api) -> None:
    order = (await admin_api.create(order_body("ref-1"))).json()
    path = f"/api/admin/orders/{order['id']}/events"

    assert (await admin_api.client.get(path)).status_code == 401
    response = await admin_api.client.get(path, headers=AUTH)
    assert response.status_code == 200
    assert [e["type"] for e in response.json()] == ["order.created"]
    missing = await admin_api.client.get("/api/admin/orders/nope/events", headers=AUTH)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
