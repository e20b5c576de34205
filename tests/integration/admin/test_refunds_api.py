"""``POST /api/admin/orders/{id}/refund`` and ``/retry-transfer`` over real HTTP: bodies, the
refusals, the order view's refund and the ``refund`` search filter."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.fakes import FakeTokenTransferService
from application.ports import TransferRequest
from domain import order_id_for
from tests.support.api import AUTH, PROBLEM, Api

PARKED_WALLET = order_id_for("ref-06")  # create_wallet_fail, parked
PARKED_TRANSFER = order_id_for("ref-15")  # send_token_to_smartwallet_fail, parked
COMPLETED = order_id_for("ref-01")


async def _post(api: Api, order_id: str, action: str, body: Any) -> Any:
    return await api.client.post(f"/api/admin/orders/{order_id}/{action}", json=body, headers=AUTH)


async def test_an_operator_refunds_a_parked_order_once(booked_api: Api) -> None:
    first = await _post(booked_api, PARKED_WALLET, "refund", {"reason": "buyer asked"})
    assert first.status_code == 200, first.text
    refund = first.json()["refund"]
    assert refund["cause"] == "operator"
    assert refund["amount"] == "42.00"
    assert refund["currency"] == "EUR"
    assert refund["idempotency_key"] == f"{PARKED_WALLET}:refund"
    assert "buyer asked" in refund["reason"]
    assert first.json()["parked"] is False

    again = await _post(booked_api, PARKED_WALLET, "refund", {"reason": "buyer asked"})
    assert again.status_code == 200
    assert again.json()["refund"]["requested_at"] == refund["requested_at"]

    # The booked orders predate buyers (no buyer reads them): the operator's history shows it,
    # with the reasons the buyer's view leaves out.
    view = (
        await booked_api.client.get(f"/api/admin/orders/{PARKED_WALLET}/history", headers=AUTH)
    ).json()
    assert view["order"]["refund"]["cause"] == "operator"
    # The order as its buyer sees it keeps the operator's words and the gateway's ids out.
    assert set(view["order"]["refund"]) == {"status", "amount", "currency", "cause", "requested_at"}
    assert any("refund of 42.00 EUR requested" in h["reason"] for h in view["history"])
    events = (
        await booked_api.client.get(f"/api/admin/orders/{PARKED_WALLET}/events", headers=AUTH)
    ).json()
    assert "order.refund_requested" in [e["type"] for e in events]

    listed = await booked_api.client.get(
        "/api/admin/orders", params={"refund": "requested"}, headers=AUTH
    )
    assert listed.status_code == 200
    found = [o["id"] for o in listed.json()["orders"]]
    # The in-process worker may have moved it on already; it is the only order with a refund.
    if found:
        assert found == [PARKED_WALLET]
    every = [
        o["id"]
        for status in ("requested", "pending", "succeeded", "failed")
        for o in (
            await booked_api.client.get(
                "/api/admin/orders", params={"refund": status}, headers=AUTH
            )
        ).json()["orders"]
    ]
    assert every == [PARKED_WALLET]

    resend = await _post(booked_api, PARKED_WALLET, "retry-transfer", {"reason": "no"})
    assert resend.status_code == 409
    assert resend.headers["content-type"] == PROBLEM


async def test_no_refund_for_a_completed_or_unknown_order(booked_api: Api) -> None:
    done = await _post(booked_api, COMPLETED, "refund", {"reason": "why not"})
    assert done.status_code == 409
    assert "tokens were sent" in done.json()["detail"]
    unknown = await _post(booked_api, "nope", "refund", {"reason": "why not"})
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": " padded"}, {"reason": "two\nlines"}, {"reason": 7}],
)
@pytest.mark.parametrize("action", ["refund", "retry-transfer"])
async def test_a_bad_reason_is_a_400_naming_it(booked_api: Api, action: str, body: Any) -> None:
    response = await _post(booked_api, PARKED_TRANSFER, action, body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]
    order = await booked_api.repository.get(PARKED_TRANSFER)
    assert order is not None
    assert order.refund is None
    assert order.send_generation == 1


async def test_a_re_send_needs_the_old_transfer_failed_by_lookup(booked_api: Api) -> None:
    none_yet = await _post(booked_api, PARKED_TRANSFER, "retry-transfer", {"reason": "again"})
    assert none_yet.status_code == 409
    assert "no transfer was made" in none_yet.json()["detail"]

    transfers = booked_api.container.transfer_service()
    assert isinstance(transfers, FakeTokenTransferService)
    key = f"{PARKED_TRANSFER}:send_token"
    request = TransferRequest("0xw", "pool-b", "USDC", 64, 60, 1)  # type: ignore[arg-type]
    await transfers.send(request, idempotency_key=key)
    landed = await _post(booked_api, PARKED_TRANSFER, "retry-transfer", {"reason": "again"})
    assert landed.status_code == 409
    assert "may still land" in landed.json()["detail"]

    transfers.fail_on_chain(key)
    resent = await _post(booked_api, PARKED_TRANSFER, "retry-transfer", {"reason": "pool fixed"})
    assert resent.status_code == 200, resent.text
    order = await booked_api.repository.get(PARKED_TRANSFER)
    assert order is not None
    assert order.send_generation == 2
    assert any(f"re-sending under key {key}:2" in h.reason for h in order.history)
    refund = await _post(booked_api, PARKED_TRANSFER, "refund", {"reason": "too late"})
    assert refund.status_code == 409


async def test_period_stats_tell_time_in_status_and_refunds(booked_api: Api) -> None:
    refunded = await _post(booked_api, PARKED_WALLET, "refund", {"reason": "buyer asked"})
    assert refunded.status_code == 200
    response = await booked_api.client.get(
        "/api/admin/stats/period",
        params={"from": "2026-01-01T00:00:00Z", "to": "2030-01-01T00:00:00Z"},
        headers=AUTH,
    )
    assert response.status_code == 200, response.text
    stats = response.json()
    assert stats["from"] == "2026-01-01T00:00:00.000Z"
    assert stats["orders"] == 16
    assert stats["truncated"] is False
    # Every completed order of the book stayed in pending, then moved on.
    assert stats["time_in_status"]["pending"]["count"] >= 6
    assert sum(stats["refunds"].values()) == 1
    bad = await booked_api.client.get(
        "/api/admin/stats/period",
        params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=AUTH,
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"] == PROBLEM
    missing = await booked_api.client.get("/api/admin/stats/period", headers=AUTH)
    assert missing.status_code == 400
