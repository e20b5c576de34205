"""The NOWPayments adapter against a scripted NOWPayments on loopback (real HTTP): what it sends
(``x-api-key``, amounts as exact JSON numbers, lower-case price currency, the IPN URL), how it
reads answers (numbers as exact decimals, payment ids as numbers or strings), the status mapping,
and that a create is never retried (NOWPayments has no idempotency key)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from adapters.http import NowPaymentsGateway, build_breakers, build_client
from adapters.http.errors import MalformedAnswer
from application.errors import PermanentDownstreamError, TransientDownstreamError
from application.ports import PaymentRequest, PaymentState
from testkit.server import serve_in_thread
from tests.integration.http.harness import FAST_RETRY

API_KEY = "np-test-key"


@dataclass
class Scripted:
    """Answers by path, in order (the last one repeats); every request received."""

    answers: dict[str, list[tuple[int, bytes]]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        self.received.append(
            {
                "method": scope["method"],
                "path": path,
                "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
                "body": body,
                "query": scope["query_string"],
            }
        )
        queue = self.answers.get(path) or [(404, b'{"message":"not found"}')]
        status, content = queue.pop(0) if len(queue) > 1 else queue[0]
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": content})


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Scripted]]:
    scripted = Scripted()
    with serve_in_thread(scripted) as url:
        yield url, scripted


@pytest.fixture
async def nowpayments(
    server: tuple[str, Scripted],
) -> AsyncIterator[tuple[NowPaymentsGateway, Scripted]]:
    url, scripted = server
    scripted.answers.clear()
    scripted.received.clear()
    scripted.answers["/v1/payment/"] = [(200, b'{"data":[],"limit":10,"page":0,"total":0}')]
    client = build_client(
        url,
        API_KEY,
        connect_timeout=1.0,
        read_timeout=1.0,
        max_connections=4,
        api_key_header="x-api-key",
    )
    gateway = NowPaymentsGateway(
        client,
        pay_currency="sol",
        public_base_url="https://orders.example.com/",
        retry=FAST_RETRY,
        breakers=build_breakers(threshold=50),
    )
    try:
        yield gateway, scripted
    finally:
        await client.aclose()


REQUEST = PaymentRequest(
    reference_id="ref-1",
    amount=Decimal("25.50"),
    currency="EUR",
    description="100 TOKEN",
    order_id="order-1",
    pool_id="pool-1",
)

CREATED = (
    b'{"payment_id":5077125051,"payment_status":"waiting","pay_address":"addr-1",'
    b'"price_amount":25.50,"price_currency":"eur","pay_amount":0.00029,"pay_currency":"sol",'
    b'"order_id":"order-1","order_description":"100 TOKEN",'
    b'"ipn_callback_url":"https://orders.example.com/api/webhooks/nowpayments",'
    b'"created_at":"2026-12-02T20:00:00.000Z","updated_at":"2026-12-02T20:00:00.000Z",'
    b'"purchase_id":"5837122679"}'
)


def status_body(status: str, payment_id: object = 5077125051, **extra: object) -> bytes:
    fields = {
        "payment_id": payment_id,
        "payment_status": status,
        "pay_address": "addr-1",
        "price_currency": "eur",
        "pay_currency": "sol",
        "order_id": "order-1",
        "updated_at": "2026-12-02T20:05:00.000Z",
        **extra,
    }
    text = json.dumps(fields)[:-1]
    # Amounts as JSON numbers written exactly (json.dumps of a float would round them).
    return (text + ',"price_amount":25.5,"pay_amount":0.00029,"actually_paid":1e-7}').encode()


async def test_create_sends_the_contracts_body_and_reads_exact_amounts(
    nowpayments: tuple[NowPaymentsGateway, Scripted],
) -> None:
    gateway, scripted = nowpayments
    scripted.answers["/v1/payment"] = [(201, CREATED)]
    created = await gateway.create_payment(REQUEST, idempotency_key="ref-1")
    looked, sent = scripted.received
    # First the order's payments are looked up, then one is made.
    assert (looked["method"], looked["path"]) == ("GET", "/v1/payment/")
    assert looked["query"] == b"order_id=order-1"
    assert sent["method"] == "POST"
    assert sent["headers"]["x-api-key"] == API_KEY
    assert "authorization" not in sent["headers"]
    assert "idempotency-key" not in sent["headers"]
    # The price as an exact JSON number, never through a float.
    assert b'"price_amount":25.50,' in sent["body"]
    assert json.loads(sent["body"], parse_float=Decimal) == {
        "price_amount": Decimal("25.50"),
        "price_currency": "eur",
        "pay_currency": "sol",
        "ipn_callback_url": "https://orders.example.com/api/webhooks/nowpayments",
        "order_id": "order-1",
        "order_description": "100 TOKEN",
    }
    assert created.id == "5077125051"
    assert created.status == "pending"
    assert created.checkout_url is None
    assert (created.amount, created.currency) == (Decimal("25.50"), "EUR")
    assert (created.pay_address, created.pay_amount, created.pay_currency) == (
        "addr-1",
        Decimal("0.00029"),
        "sol",
    )
    assert created.expires_at is None


@pytest.mark.parametrize("failure", [(500, b'{"message":"boom"}'), (503, b"")])
async def test_a_failed_create_is_not_retried(
    nowpayments: tuple[NowPaymentsGateway, Scripted], failure: tuple[int, bytes]
) -> None:
    gateway, scripted = nowpayments
    scripted.answers["/v1/payment"] = [failure, (201, CREATED)]
    with pytest.raises(TransientDownstreamError):
        await gateway.create_payment(REQUEST, idempotency_key="ref-1")
    assert [r["method"] for r in scripted.received] == ["GET", "POST"]


async def test_an_open_payment_of_the_order_is_answered_instead_of_a_new_one(
    nowpayments: tuple[NowPaymentsGateway, Scripted],
) -> None:
    gateway, scripted = nowpayments
    listed = CREATED.replace(b'"payment_status":"waiting"', b'"payment_status":"confirming"')
    expired = CREATED.replace(b"5077125051", b"5077125050").replace(b"waiting", b"expired")
    other = CREATED.replace(b"5077125051", b"5077125049").replace(b"order-1", b"order-9")
    scripted.answers["/v1/payment/"] = [
        (200, b'{"data":[' + expired + b"," + other + b"," + listed + b"]}")
    ]
    found = await gateway.create_payment(REQUEST, idempotency_key="ref-1")
    assert [r["method"] for r in scripted.received] == ["GET"]
    assert found.id == "5077125051"
    assert (found.pay_address, found.pay_amount) == ("addr-1", Decimal("0.00029"))
    assert found.status == "pending"


async def test_a_create_answered_for_another_order_is_malformed(
    nowpayments: tuple[NowPaymentsGateway, Scripted],
) -> None:
    gateway, scripted = nowpayments
    scripted.answers["/v1/payment"] = [(201, CREATED.replace(b"order-1", b"order-2"))]
    with pytest.raises(MalformedAnswer):
        await gateway.create_payment(REQUEST, idempotency_key="ref-1")


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("waiting", PaymentState.PENDING),
        ("confirming", PaymentState.PENDING),
        ("confirmed", PaymentState.PENDING),
        ("sending", PaymentState.PENDING),
        ("partially_paid", PaymentState.PENDING),
        ("finished", PaymentState.COMPLETED),
        ("failed", PaymentState.FAILED),
        ("refunded", PaymentState.FAILED),
        ("expired", PaymentState.EXPIRED),
        ("paid_in_full_honest", PaymentState.PENDING),
        ("FINISHED", PaymentState.PENDING),
    ],
)
async def test_statuses_map_onto_the_port_and_only_finished_is_paid(
    nowpayments: tuple[NowPaymentsGateway, Scripted], status: str, state: PaymentState
) -> None:
    gateway, scripted = nowpayments
    scripted.answers["/v1/payment/5077125051"] = [(200, status_body(status))]
    answer = await gateway.get_payment("5077125051")
    assert answer.status is state
    assert (answer.amount, answer.currency) == (Decimal("25.5"), "EUR")
    assert (answer.paid_at is not None) == (state is PaymentState.COMPLETED)
    (sent,) = scripted.received
    assert sent["headers"]["x-api-key"] == API_KEY


async def test_an_unknown_status_is_logged(
    nowpayments: tuple[NowPaymentsGateway, Scripted], caplog: pytest.LogCaptureFixture
) -> None:
    gateway, scripted = nowpayments
    scripted.answers["/v1/payment/7"] = [(200, status_body("mystery", payment_id="7"))]
    with caplog.at_level("WARNING", logger="adapters.http.nowpayments"):
        answer = await gateway.get_payment("7")
    assert answer.status is PaymentState.PENDING
    assert "unknown status 'mystery'" in caplog.text


async def test_a_status_read_is_retried_and_an_unknown_payment_is_permanent(
    nowpayments: tuple[NowPaymentsGateway, Scripted],
) -> None:
    gateway, scripted = nowpayments
    scripted.answers["/v1/payment/9"] = [
        (502, b""),
        (200, status_body("finished", payment_id=9)),
    ]
    assert (await gateway.get_payment("9")).status is PaymentState.COMPLETED
    assert len(scripted.received) == 2
    with pytest.raises(PermanentDownstreamError):
        await gateway.get_payment("10")


@pytest.mark.parametrize(
    "body",
    [
        status_body("finished", payment_id=11),  # another payment's answer
        status_body("finished").replace(b'"price_amount":25.5', b'"price_amount":-1'),
        status_body("finished").replace(b'"payment_status": "finished"', b'"payment_status": 3'),
        b"[]",
        b"not json",
    ],
)
async def test_a_status_answer_outside_the_contract_is_malformed(
    nowpayments: tuple[NowPaymentsGateway, Scripted], body: bytes
) -> None:
    gateway, scripted = nowpayments
    scripted.answers["/v1/payment/5077125051"] = [(200, body)]
    with pytest.raises(MalformedAnswer):
        await gateway.get_payment("5077125051")
