"""Answers outside the contract are transient errors that log the body, never crashes; and what
the adapters log about each call (never the API key or the passkey's public key)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar, Request, Response, route
from litestar.datastructures import State
from litestar.params import FromPath

from adapters.http import CallRetryPolicy, MalformedAnswer
from adapters.http.bodies import parse_retry_after
from application.errors import PermanentDownstreamError, TransientDownstreamError
from testkit.server import serve_in_thread
from tests.integration.http.calls import call
from tests.integration.http.harness import API_KEY, Adapters, SandboxControl
from tests.support.downstream_requests import payment_request

GOOD_PAYMENT = (
    b'{"id":"pay_1","token":"tok","checkout_url":"http://x/c/pay_1","status":"pending",'
    b'"amount":"12.50","currency":"EUR","created_at":"2026-01-01T00:00:00Z",'
    b'"expires_at":"2026-01-01T00:30:00Z"}'
)


# --- through the sandbox ---


async def test_a_malformed_answer_is_transient_and_not_retried_on_the_spot(
    sandbox: SandboxControl, adapters: Adapters, caplog: pytest.LogCaptureFixture
) -> None:
    await sandbox.script("create_payment", "malformed")

    with (
        caplog.at_level(logging.WARNING, logger="adapters.http"),
        pytest.raises(MalformedAnswer) as caught,
    ):
        await call(adapters, "create_payment")

    assert isinstance(caught.value, TransientDownstreamError)
    assert await sandbox.calls("create_payment") == 1
    assert "this body is not the contract's" in caplog.text
    # The sandbox applied the effect before the bad answer: the same key finds the payment.
    await call(adapters, "create_payment")
    stats = await sandbox.stats()
    assert (stats["payments"], stats["payment_replays"]) == (1, 1)


async def test_each_attempt_is_logged_without_secrets(
    sandbox: SandboxControl, adapters: Adapters, caplog: pytest.LogCaptureFixture
) -> None:
    await sandbox.script("create_wallet", "error")
    with caplog.at_level(logging.DEBUG):
        await call(adapters, "create_wallet")

    records = [r for r in caplog.records if r.name == "adapters.http"]
    assert [(r.__dict__["status"], r.__dict__["attempt"]) for r in records] == [(503, 1), (201, 2)]
    for record in records:
        assert record.__dict__["idempotency_key"] == "ord_1:create_wallet"
        assert record.__dict__["method"] == "POST"
        assert record.__dict__["path"] == "/v1/wallets"
        assert record.__dict__["duration_ms"] >= 0
        assert "ord_1:create_wallet" in record.getMessage()
    assert API_KEY not in caplog.text
    assert "pk-secret-1" not in caplog.text


# --- through a vendor that answers whatever the test says ---


@dataclass
class Script:
    answers: list[tuple[int, bytes, dict[str, str]]] = field(default_factory=list)
    seen: int = 0


@route("/{path:path}", http_method=["GET", "POST"])
async def scripted_answer(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
    script: Script = request.app.state.script
    script.seen += 1
    status, body, headers = script.answers.pop(0) if script.answers else (500, b"", {})
    return Response(body, status_code=status, headers=headers, media_type="application/json")


@pytest.fixture(scope="module")
def vendor() -> Iterator[tuple[str, Script]]:
    script = Script()
    app = Litestar([scripted_answer], state=State({"script": script}), logging_config=None)
    with serve_in_thread(app) as url:
        yield url, script


@pytest.fixture
async def vendor_adapters(vendor: tuple[str, Script]) -> AsyncIterator[tuple[Adapters, Script]]:
    url, script = vendor
    script.answers.clear()
    script.seen = 0
    made = Adapters(url, retry=CallRetryPolicy(attempts=2, wait_initial=0.001, wait_jitter=0))
    try:
        yield made, script
    finally:
        await made.aclose()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (GOOD_PAYMENT.replace(b'"12.50"', b"12.50"), "a JSON number for an amount"),
        (GOOD_PAYMENT.replace(b'"12.50"', b'"NaN"'), "NaN for an amount"),
        (GOOD_PAYMENT.replace(b"00:00:00Z", b"00:00:00"), "a time without timezone"),
        (GOOD_PAYMENT.replace(b'"pending"', b'"paid"'), "a status outside the contract"),
        (GOOD_PAYMENT.replace(b'"id":"pay_1",', b""), "a missing field"),
        (b"<html>Bad gateway</html>", "not JSON"),
        (b"", "no body"),
    ],
)
async def test_answers_outside_the_contract(
    vendor_adapters: tuple[Adapters, Script], body: bytes, why: str
) -> None:
    adapters, script = vendor_adapters
    script.answers.append((201, body, {}))
    with pytest.raises(MalformedAnswer):
        await call(adapters, "create_payment")
    assert script.seen == 1, why


async def test_the_contract_answer_parses(vendor_adapters: tuple[Adapters, Script]) -> None:
    adapters, script = vendor_adapters
    script.answers.append((201, GOOD_PAYMENT, {}))
    created = await adapters.gateway.create_payment(
        payment_request(),
        idempotency_key="ref-1",
    )
    assert created.id == "pay_1"
    assert str(created.amount) == "12.50"


async def test_a_body_that_does_not_match_its_encoding_is_malformed(
    vendor_adapters: tuple[Adapters, Script],
) -> None:
    adapters, script = vendor_adapters
    script.answers.append((201, b"not gzip at all", {"Content-Encoding": "gzip"}))
    with pytest.raises(MalformedAnswer, match="DecodingError"):
        await call(adapters, "create_wallet")
    assert script.seen == 1


async def test_a_redirect_is_unexpected(vendor_adapters: tuple[Adapters, Script]) -> None:
    adapters, script = vendor_adapters
    script.answers.append((302, b"", {"Location": "http://elsewhere.invalid/"}))
    with pytest.raises(MalformedAnswer, match="unexpected status 302"):
        await call(adapters, "create_wallet")


async def test_a_long_body_is_logged_truncated(
    vendor_adapters: tuple[Adapters, Script], caplog: pytest.LogCaptureFixture
) -> None:
    adapters, script = vendor_adapters
    script.answers.append((200, b'{"address": 1, "junk": "' + b"x" * 20_000 + b'"}', {}))
    with caplog.at_level(logging.WARNING, logger="adapters.http"), pytest.raises(MalformedAnswer):
        await call(adapters, "create_wallet")
    logged = [r.getMessage() for r in caplog.records if "outside the contract" in r.getMessage()]
    assert len(logged) == 1
    assert '{"address": 1' in logged[0]
    assert len(logged[0]) < 1_500


async def test_an_unknown_error_body_keeps_the_vendors_words(
    vendor_adapters: tuple[Adapters, Script],
) -> None:
    adapters, script = vendor_adapters
    script.answers.append((403, b"Forbidden by policy", {"Content-Type": "text/plain"}))
    with pytest.raises(PermanentDownstreamError, match="403 Forbidden by policy"):
        await call(adapters, "create_wallet")


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
