"""A caller's own bad input never counts against a downstream: over real HTTP, against
the sandbox. A newline in a reference id is refused by validation and never reaches the gateway; a
request the client cannot build, or a 400/422 the gateway answers because of the request, is a
permanent error of that call: not retried, not counted by the circuit breaker, and a 422 to the
API caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from adapters.http import CallRetryPolicy, CircuitOpen
from application.errors import RequestRefused, TransientDownstreamError
from entrypoints.container import Container
from entrypoints.settings import Settings
from sandbox import FaultKind
from tests.integration.http.harness import Adapters, SandboxControl
from tests.support.api import SECRET, UNLIMITED, Api, api_starter
from tests.support.downstream_requests import payment_request
from tests.support.orders import order_body

#: One failed attempt more than this opens the gateway's circuit in these tests.
THRESHOLD = 2
RETRY = CallRetryPolicy(attempts=3, wait_initial=0.001, wait_max=0.005, wait_jitter=0.001)


@pytest.fixture
async def fragile(sandbox: SandboxControl) -> AsyncIterator[Adapters]:
    """Adapters that retry three times and whose breaker opens after two failed attempts."""
    made = Adapters(sandbox.url, retry=RETRY, breaker_threshold=THRESHOLD, breaker_reset_seconds=30)
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture
async def api(fragile: Adapters) -> AsyncIterator[Api]:
    """The API on loopback, creating payments at the sandbox through ``fragile``'s gateway."""

    def configure(container: Container) -> None:
        container.payment_gateway.override(providers.Object(fragile.gateway))

    settings = Settings(
        mode="dev", payment_webhook_secrets=(SECRET,), rate_limit_per_minute=UNLIMITED
    )
    async with api_starter(settings, FakePaymentGateway(SystemClock()))(configure) as running:
        yield running


async def test_a_newline_reference_id_never_reaches_the_gateway(
    sandbox: SandboxControl, api: Api
) -> None:
    for _ in range(THRESHOLD + 1):
        body = order_body("ref-nl\n", passkey={"credential_id": "c", "public_key": "k"})
        response = await api.create(body)
        assert response.status_code == 400, response.text
        assert [e["field"] for e in response.json()["errors"]] == ["reference_id"]

    assert await sandbox.calls("create_payment") == 0
    # The gateway's circuit never heard of it: the next valid create goes through.
    valid = await api.create(order_body("ref-valid"))
    assert valid.status_code == 201, valid.text
    assert await sandbox.calls("create_payment") == 1


@pytest.mark.parametrize(
    "key",
    ["ref-1\n", "ref-1\r\nX-Injected: 1", "ref-\x00", "réf-1"],
    ids=["newline", "header injection", "NUL", "non-ASCII"],
)
async def test_an_unbuildable_request_is_permanent_and_the_breaker_stays_closed(
    sandbox: SandboxControl, fragile: Adapters, key: str
) -> None:
    for _ in range(THRESHOLD + 1):
        with pytest.raises(RequestRefused) as refused:
            await fragile.gateway.create_payment(payment_request(), idempotency_key=key)
        assert not isinstance(refused.value, TransientDownstreamError)
    assert await sandbox.calls("create_payment") == 0

    created = await fragile.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    assert created.id
    assert await sandbox.calls("create_payment") == 1


async def test_a_400_answer_is_permanent_and_does_not_open_the_circuit(
    sandbox: SandboxControl, fragile: Adapters
) -> None:
    await sandbox.script("create_payment", *_times("bad_request", THRESHOLD + 1))
    for _ in range(THRESHOLD + 1):
        with pytest.raises(RequestRefused):
            await fragile.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    # One attempt each: a refused request is not retried.
    assert await sandbox.calls("create_payment") == THRESHOLD + 1

    created = await fragile.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    assert created.id


async def test_the_control_transient_failures_do_open_the_circuit(
    sandbox: SandboxControl, fragile: Adapters
) -> None:
    # Proof that THRESHOLD failures are enough to open it, so the tests above could fail.
    await sandbox.script("create_payment", *_times("error", THRESHOLD + 1))
    with pytest.raises(CircuitOpen):
        await fragile.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    assert await sandbox.calls("create_payment") == THRESHOLD


async def test_a_gateway_400_is_a_422_to_the_caller_and_leaves_creation_open(
    sandbox: SandboxControl, api: Api
) -> None:
    await sandbox.script("create_payment", *_times("bad_request", THRESHOLD + 1))
    for n in range(THRESHOLD + 1):
        response = await api.create(order_body(f"ref-refused-{n}"))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payment_gateway_refused_request"

    valid = await api.create(order_body("ref-after"))
    assert valid.status_code == 201, valid.text


async def test_value_equal_amounts_sent_at_once_are_one_payment(
    sandbox: SandboxControl, api: Api
) -> None:
    # The gateway compares the bodies under one idempotency key (the description carries the
    # token amount): they must not depend on how the caller spelled the amounts.
    spellings = [
        ("300000", "12.5"),
        ("300000.00", "12.50"),
        ("300000.0", "12.500"),
        ("0300000", "012.5"),
    ]
    answers = await asyncio.gather(
        *(
            api.create(order_body("ref-spelling", price_fiat=price, amount_token=amount))
            for price, amount in spellings
        )
    )

    assert [a.status_code for a in answers] == [201] * len(spellings), [a.text for a in answers]
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["price_fiat"] == "300000"
    assert answers[0].json()["amount_token"] == "12.5"
    sequential = await api.create(
        order_body("ref-spelling", price_fiat="300000.000", amount_token="12.5000")
    )
    assert sequential.status_code == 201
    assert sequential.content == answers[0].content


def _times(fault: FaultKind, count: int) -> list[FaultKind]:
    return [fault] * count
