"""``POST /api/orders`` and the two reads, through real HTTP."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from adapters.fakes import Fault
from tests.support.api import PROBLEM, Api
from tests.support.orders import order_body

REPLAYED = "idempotent-replayed"


async def test_create_answers_201_with_the_order_and_the_gateways_payment(api: Api) -> None:
    response = await api.create(order_body("ref-1", smart_wallet_address="0xabc"))

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert REPLAYED not in response.headers
    order = response.json()
    assert order["reference_id"] == "ref-1"
    assert order["status"] == "pending"
    # Amounts come back as decimal strings, not as floats, in their one canonical spelling
    # ("12.500000" was sent: the same value, without the trailing zeros).
    assert order["amount_token"] == "12.5"
    assert order["min_amount_token_receive"] == "12.4"
    assert order["price_tolerance_percent"] == "1.5"
    assert order["price_fiat"] == "13.1"
    assert order["fiat_currency"] == "EUR"
    assert order["smart_wallet_address"] == "0xabc"
    assert order["passkey"] == {"credential_id": "cred-ref-1", "public_key": "pk-ref-1"}
    [stored] = api.gateway.payments.values()
    payment = order["payment"]
    assert payment["id"] == stored.created.id
    assert payment["token"] == stored.created.token
    assert payment["checkout_url"] == stored.created.checkout_url
    assert payment["amount"] == "13.1"
    assert payment["expires_at"] is not None
    assert order["transfer"] is None
    assert [h["status"] for h in order["history"]] == ["pending"]
    assert Decimal(stored.request.amount) == Decimal("13.10")


async def test_the_order_reads_back_by_id_and_by_reference_id(api: Api) -> None:
    created = (await api.create(order_body("ref-read"))).json()

    by_id = await api.client.get(f"/api/orders/{created['id']}")
    by_reference = await api.client.get("/api/orders", params={"reference_id": "ref-read"})

    assert by_id.status_code == 200
    assert by_reference.status_code == 200
    assert by_id.json() == created
    assert by_reference.json() == created


async def test_an_unknown_id_is_a_404_problem(api: Api) -> None:
    response = await api.client.get("/api/orders/no-such-order")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 404
    assert "no-such-order" in response.json()["detail"]


async def test_an_unknown_reference_id_is_a_404_problem(api: Api) -> None:
    response = await api.client.get("/api/orders", params={"reference_id": "nobody"})

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_a_lookup_without_reference_id_is_a_400_naming_it(api: Api) -> None:
    response = await api.client.get("/api/orders")

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["reference_id"]


async def test_the_same_body_again_replays_the_order_with_the_replayed_header(api: Api) -> None:
    first = await api.create(order_body("ref-replay"))
    second = await api.create(order_body("ref-replay"))

    assert first.status_code == second.status_code == 201
    assert second.headers[REPLAYED] == "true"
    assert second.json() == first.json()
    assert len(api.gateway.payments) == 1
    assert len(api.repository.all()) == 1


async def test_the_same_reference_id_with_another_body_is_a_409(api: Api) -> None:
    first = await api.create(order_body("ref-conflict"))
    response = await api.create(order_body("ref-conflict", amount_token="99"))

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "idempotency_conflict"
    assert len(api.gateway.payments) == 1
    stored = await api.client.get(f"/api/orders/{first.json()['id']}")
    assert stored.json() == first.json()


async def test_100_concurrent_identical_creates_make_one_order_and_one_payment(api: Api) -> None:
    body = order_body("ref-storm")

    responses = await asyncio.gather(*(api.create(body) for _ in range(100)))

    assert {r.status_code for r in responses} == {201}
    bodies = [r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)
    assert sum(REPLAYED not in r.headers for r in responses) == 1
    assert len(api.repository.all()) == 1
    assert len(api.gateway.payments) == 1
    # Every call beyond the first that reached the gateway was answered by its idempotency key.
    assert api.gateway.create_calls - api.gateway.replays == 1


async def test_gateway_down_is_a_502_with_nothing_stored_and_a_retry_succeeds(api: Api) -> None:
    api.gateway.faults.script("create_payment", Fault.TRANSIENT)

    failed = await api.create(order_body("ref-down"))

    assert failed.status_code == 502
    assert failed.headers["content-type"] == PROBLEM
    assert failed.json()["code"] == "payment_gateway_unavailable"
    assert api.repository.all() == []
    assert api.gateway.payments == {}

    retried = await api.create(order_body("ref-down"))

    assert retried.status_code == 201
    assert REPLAYED not in retried.headers
    assert len(api.gateway.payments) == 1


async def test_gateway_timeout_is_a_504_with_nothing_stored_and_a_retry_succeeds(
    api: Api,
) -> None:
    api.gateway.faults.script("create_payment", Fault.TIMEOUT)

    failed = await api.create(order_body("ref-slow"))

    assert failed.status_code == 504
    assert failed.headers["content-type"] == PROBLEM
    assert api.repository.all() == []

    retried = await api.create(order_body("ref-slow"))

    assert retried.status_code == 201
    assert len(api.gateway.payments) == 1


async def test_an_answer_lost_after_the_payment_was_made_is_replayed_by_the_retry(
    api: Api,
) -> None:
    # The gateway made the payment but its answer never arrived: 504, nothing stored here.
    api.gateway.faults.script("create_payment", Fault.LOST_ANSWER)

    failed = await api.create(order_body("ref-lost"))

    assert failed.status_code == 504
    assert api.repository.all() == []
    [made] = api.gateway.payments

    retried = await api.create(order_body("ref-lost"))

    assert retried.status_code == 201
    assert retried.json()["payment"]["id"] == made
    assert len(api.gateway.payments) == 1


async def test_a_gateway_refusal_is_a_502_problem(api: Api) -> None:
    api.gateway.faults.script("create_payment", Fault.PERMANENT)

    response = await api.create(order_body("ref-refused"))

    assert response.status_code == 502
    assert response.json()["code"] == "payment_gateway_rejected"
    assert api.repository.all() == []
