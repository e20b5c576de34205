"""``POST /api/webhooks/nowpayments``: NOWPayments' signature, the webhook log keyed by
(payment_id, payment_status, updated_at), and the answers NOWPayments acts on (it redelivers
every non-2xx). IPNs are signed with the sandbox's own signer, independent of the verifier."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway, RecordingScheduler
from entrypoints.container import Container
from entrypoints.settings import Settings
from sandbox.nowpayments import sign_ipn, write_object
from tests.support.api import PROBLEM, SECRET, UNLIMITED, Api, StartApi, api_starter
from tests.support.orders import order_body

IPN_SECRET = "np_ipn_secret_0123456789"
PATH = "/api/webhooks/nowpayments"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        mode="dev",
        payment_webhook_secrets=(SECRET,),
        nowpayments_ipn_secret=IPN_SECRET,
        rate_limit_per_minute=UNLIMITED,
    )


def ipn(payment_id: object, status: str = "finished", **extra: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "payment_id": payment_id,
        "payment_status": status,
        "pay_address": "addr-1",
        "price_amount": Decimal("10.5"),
        "price_currency": "eur",
        "pay_amount": Decimal("0.00029"),
        "actually_paid": Decimal("0.00029"),
        "pay_currency": "sol",
        "order_id": "o-1",
        "order_description": "Café 東京",
        "updated_at": "2026-12-02T20:05:00.000Z",
    }
    return fields | extra


async def post_ipn(
    api: Api, fields: dict[str, object], *, secret: str = IPN_SECRET, **headers: str
) -> httpx.Response:
    body = write_object(fields).encode()
    sent = {"Content-Type": "application/json", "x-nowpayments-sig": sign_ipn(secret, fields)}
    return await api.client.post(PATH, content=body, headers=sent | headers)


async def _paid_order(api: Api, reference_id: str = "ref-np") -> tuple[str, str]:
    order = (await api.create(order_body(reference_id))).json()
    api.gateway.complete(order["payment"]["id"])
    return order["id"], order["payment"]["id"]


async def _status_becomes(api: Api, order_id: str, status: str) -> dict[str, Any]:
    order: dict[str, Any] = {}
    for _ in range(300):
        order = (await api.client.get(f"/api/orders/{order_id}")).json()
        if order["status"] == status:
            return order
        await asyncio.sleep(0.01)
    raise AssertionError(f"order {order_id} never became {status}: {order}")


@pytest.fixture
async def recorded(start_api: StartApi) -> AsyncIterator[tuple[Api, RecordingScheduler]]:
    scheduler = RecordingScheduler(SystemClock())

    def configure(container: Container) -> None:
        container.scheduler.override(providers.Object(scheduler))

    async with start_api(configure) as running:
        yield running, scheduler


async def test_a_signed_ipn_is_accepted_and_the_order_advances_from_the_apis_status(
    api: Api,
) -> None:
    order_id, payment_id = await _paid_order(api)
    response = await post_ipn(api, ipn(payment_id))
    assert response.status_code == 202, response.text
    event_id = f"nowpayments:{payment_id}:finished:2026-12-02T20:05:00.000Z"
    assert response.json() == {"event_id": event_id, "outcome": "accepted", "order_id": order_id}
    await _status_becomes(api, order_id, "completed")
    event = await api.webhook_log.get(event_id)
    assert event is not None
    assert event.outcome == "accepted"
    assert event.payment_id == payment_id


async def test_the_body_is_a_hint_a_finished_ipn_for_an_unpaid_payment_pays_nothing(
    recorded: tuple[Api, RecordingScheduler],
) -> None:
    api, scheduler = recorded
    order = (await api.create(order_body("ref-unpaid"))).json()
    response = await post_ipn(api, ipn(order["payment"]["id"]))
    assert response.status_code == 202
    # Only scheduled: AdvanceOrder asks the gateway, which says pending.
    assert [order_id for order_id, _ in scheduler.calls] == [order["id"]]
    assert (await api.client.get(f"/api/orders/{order['id']}")).json()["status"] == "pending"


async def test_a_redelivered_ipn_is_a_duplicate_and_a_new_status_is_not(
    recorded: tuple[Api, RecordingScheduler],
) -> None:
    api, scheduler = recorded
    order = (await api.create(order_body("ref-dup"))).json()
    payment_id = order["payment"]["id"]
    first = await post_ipn(api, ipn(payment_id, "confirming"))
    again = await post_ipn(api, ipn(payment_id, "confirming"))
    later = await post_ipn(api, ipn(payment_id, "confirming", updated_at="2026-12-02T20:06:00Z"))
    other = await post_ipn(api, ipn(payment_id, "finished"))
    assert [r.status_code for r in (first, again, later, other)] == [202, 200, 202, 202]
    assert again.json()["outcome"] == "duplicate"
    assert len(scheduler.calls) == 3


async def test_keys_in_another_order_and_numbers_with_exponents_verify(
    recorded: tuple[Api, RecordingScheduler],
) -> None:
    api, _ = recorded
    order = (await api.create(order_body("ref-order"))).json()
    fields = ipn(order["payment"]["id"], outcome_amount=Decimal("1E-7"))
    # The body written with keys reversed and amounts spelled with exponents; the signature is
    # over the sorted JavaScript form, which is the same.
    body = (
        "{"
        + ",".join(
            f'"{k}":' + ("2.9e-4" if k == "pay_amount" else write_object({k: v})[len(k) + 4 : -1])
            for k, v in reversed(fields.items())
        )
        + "}"
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "x-nowpayments-sig": sign_ipn(IPN_SECRET, fields),
    }
    response = await api.client.post(PATH, content=body, headers=headers)
    assert response.status_code == 202, response.text


async def test_amounts_as_strings_verify_over_their_strings(
    recorded: tuple[Api, RecordingScheduler],
) -> None:
    api, _ = recorded
    order = (await api.create(order_body("ref-strings"))).json()
    response = await post_ipn(api, ipn(order["payment"]["id"], price_amount="10.50"))
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"x-nowpayments-sig": ""}, "missing"),
        ({"x-nowpayments-sig": "zz"}, "hex"),
        ({"x-nowpayments-sig": "0" * 128}, "does not match"),
    ],
)
async def test_a_missing_malformed_or_forged_signature_is_a_401(
    recorded: tuple[Api, RecordingScheduler], headers: dict[str, str], why: str
) -> None:
    api, scheduler = recorded
    order = (await api.create(order_body("ref-sig"))).json()
    response = await post_ipn(api, ipn(order["payment"]["id"]), **headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "invalid_signature"
    assert why in response.json()["detail"]
    assert [order_id for order_id, _ in scheduler.calls] == []


async def test_a_signature_with_another_secret_or_over_another_body_is_a_401(
    recorded: tuple[Api, RecordingScheduler],
) -> None:
    api, _ = recorded
    order = (await api.create(order_body("ref-sig2"))).json()
    fields = ipn(order["payment"]["id"])
    assert (await post_ipn(api, fields, secret="another-secret")).status_code == 401
    tampered = write_object(fields | {"actually_paid": Decimal("0.00030")}).encode()
    headers = {
        "Content-Type": "application/json",
        "x-nowpayments-sig": sign_ipn(IPN_SECRET, fields),
    }
    assert (await api.client.post(PATH, content=tampered, headers=headers)).status_code == 401


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"1", b"null", b"{", b"", b'{"a":NaN}'])
async def test_a_body_that_is_not_a_json_object_is_a_400(api: Api, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "x-nowpayments-sig": "a" * 128}
    response = await api.client.post(PATH, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "body"


async def test_fields_that_are_not_nowpayments_are_a_400_naming_each(api: Api) -> None:
    fields = ipn(
        Decimal("1.5"),
        "",
        updated_at=None,
        price_amount="ten",
        actually_paid=Decimal(-1),
    )
    response = await post_ipn(api, fields)
    assert response.status_code == 400, response.text
    named = [e["field"] for e in response.json()["errors"]]
    assert named == ["payment_id", "payment_status", "updated_at", "price_amount", "actually_paid"]


async def test_an_unknown_payment_is_a_404_and_an_unknown_status_is_accepted(
    recorded: tuple[Api, RecordingScheduler],
) -> None:
    api, scheduler = recorded
    assert (await post_ipn(api, ipn(424242))).status_code == 404
    order = (await api.create(order_body("ref-status"))).json()
    response = await post_ipn(api, ipn(order["payment"]["id"], "wobbling"))
    assert response.status_code == 202
    assert [order_id for order_id, _ in scheduler.calls] == [order["id"]]


async def test_without_a_configured_secret_every_ipn_is_refused() -> None:
    settings = Settings(
        mode="dev", payment_webhook_secrets=(SECRET,), rate_limit_per_minute=UNLIMITED
    )
    async with api_starter(settings, FakePaymentGateway(SystemClock()))() as api:
        order = (await api.create(order_body("ref-nosecret"))).json()
        response = await post_ipn(api, ipn(order["payment"]["id"]), secret="")
        assert response.status_code == 401
        assert "no IPN secret" in response.json()["detail"]
