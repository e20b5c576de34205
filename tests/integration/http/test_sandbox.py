"""The sandbox's own surface over HTTP: keys, request checks, the checkout page, knobs, the CLI."""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx
import msgspec
import pytest

from entrypoints.commands import sandbox as sandbox_command
from entrypoints.settings import Settings
from sandbox import SandboxConfig, SandboxKnobs, create_sandbox_app
from testkit.server import serve_in_thread
from tests.integration.http.calls import call
from tests.integration.http.harness import API_KEY, Adapters, SandboxControl

AUTH = {"Authorization": f"Bearer {API_KEY}"}
PAYMENT = {
    "reference_id": "ref-s",
    "amount": "12.50",
    "currency": "EUR",
    "description": "100 USDC <for you>",
    "metadata": {"order_id": "ord_s", "pool_id": "pool-usdc"},
}


async def _post(control: SandboxControl, path: str, body: Any, **headers: str) -> httpx.Response:
    return await control.client.post(path, json=body, headers=headers)


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic " + API_KEY, "Bearer", API_KEY])
async def test_calls_without_the_key_are_refused(
    sandbox: SandboxControl, header: str | None
) -> None:
    headers = {"Idempotency-Key": "k"} | ({"Authorization": header} if header else {})
    answer = await _post(sandbox, "/v1/payments", PAYMENT, **headers)
    assert (answer.status_code, answer.json()) == (401, {"error": "unauthorized"})
    assert (await sandbox.stats())["payments"] == 0


async def test_an_empty_key_setting_accepts_any_bearer_token() -> None:
    with serve_in_thread(create_sandbox_app(SandboxConfig())) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            ok = await client.get("/v1/transfers/by-key/k", headers={"Authorization": "Bearer x"})
            refused = await client.get("/v1/transfers/by-key/k")
    assert ok.status_code == 404  # authorised, and no such transfer
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"amount": 12.5}, "Expected `str`"),
        ({"amount": "twelve"}, "decimal string"),
        ({"amount": "-1"}, "positive"),
        ({"currency": "euro"}, "ISO 4217"),
        ({"metadata": {"order_id": "o"}}, "pool_id"),
    ],
)
async def test_bodies_outside_the_contract_are_refused(
    sandbox: SandboxControl, change: dict[str, Any], detail: str
) -> None:
    answer = await _post(
        sandbox, "/v1/payments", PAYMENT | change, **AUTH, **{"Idempotency-Key": "k"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert detail in answer.json()["detail"]


async def test_the_idempotency_key_is_required(sandbox: SandboxControl) -> None:
    answer = await _post(sandbox, "/v1/payments", PAYMENT, **AUTH)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["detail"]


async def test_a_person_can_pay_on_the_checkout_page(sandbox: SandboxControl) -> None:
    created = await _post(sandbox, "/v1/payments", PAYMENT, **AUTH, **{"Idempotency-Key": "k"})
    assert created.status_code == 201
    payment = created.json()
    assert payment["checkout_url"] == f"{sandbox.url}/checkout/{payment['id']}"

    page = await sandbox.client.get(payment["checkout_url"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "12.50 EUR" in page.text
    assert "100 USDC &lt;for you&gt;" in page.text  # escaped
    assert f'action="/sandbox/payments/{payment["id"]}/complete"' in page.text
    assert f'action="/sandbox/payments/{payment["id"]}/fail"' in page.text

    # What the browser does with the "Pay" form: a form post, then the redirect back.
    paid = await sandbox.client.post(
        f"/sandbox/payments/{payment['id']}/complete",
        content=b"",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=True,
    )
    assert paid.history[0].status_code == 303
    assert paid.url == payment["checkout_url"]
    assert "completed" in paid.text
    assert "Pay</button>" not in paid.text

    status = await sandbox.client.get(f"/v1/payments/{payment['id']}", headers=AUTH)
    assert status.json()["status"] == "completed"
    view = (await sandbox.client.get(f"/sandbox/payments/{payment['id']}")).json()
    assert (view["status"], view["order_id"], view["amount"]) == ("completed", "ord_s", "12.50")


@pytest.mark.parametrize(("action", "status"), [("complete", "completed"), ("fail", "failed")])
async def test_after_pay_or_fail_the_checkout_sends_the_buyer_to_the_return_url(
    sandbox: SandboxControl, action: str, status: str
) -> None:
    back = "http://127.0.0.1:8010/shop?reference_id=ref-s&status=stale"
    body = {**PAYMENT, "return_url": back}
    created = await _post(sandbox, "/v1/payments", body, **AUTH, **{"Idempotency-Key": "k"})
    payment_id = created.json()["id"]

    answer = await sandbox.client.post(
        f"/sandbox/payments/{payment_id}/{action}",
        content=b"",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"http://127.0.0.1:8010/shop?reference_id=ref-s&payment_id={payment_id}&status={status}"
    )
    # The settled checkout page offers the same way back.
    page = await sandbox.client.get(f"/checkout/{payment_id}")
    assert "Back to the shop" in page.text
    # The same key and body replay; another return_url under the key is another body.
    again = await _post(sandbox, "/v1/payments", body, **AUTH, **{"Idempotency-Key": "k"})
    other = await _post(sandbox, "/v1/payments", {**PAYMENT}, **AUTH, **{"Idempotency-Key": "k"})
    assert again.status_code == 200
    assert other.status_code == 409


async def test_the_shop_page_calls_the_api_the_webhooks_go_to() -> None:
    config = SandboxConfig(webhook_url="http://127.0.0.1:8123/api/webhooks/payments")
    with serve_in_thread(create_sandbox_app(config)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            shop = await client.get("/shop")
    assert shop.status_code == 200
    assert shop.headers["content-type"].startswith("text/html")
    assert 'const INJECTED_API = "http://127.0.0.1:8123";' in shop.text
    assert "__API_BASE__" not in shop.text
    # Plain HTML and one inline script: nothing loaded from elsewhere.
    assert "<script src" not in shop.text
    assert "<link" not in shop.text


async def test_a_payment_can_be_paid_with_another_amount(sandbox: SandboxControl) -> None:
    created = await _post(sandbox, "/v1/payments", PAYMENT, **AUTH, **{"Idempotency-Key": "k"})
    payment_id = created.json()["id"]
    await sandbox.client.post(f"/sandbox/payments/{payment_id}/complete?amount=10.00")
    status = await sandbox.client.get(f"/v1/payments/{payment_id}", headers=AUTH)
    assert status.json()["amount"] == "10.00"


async def test_the_index_lists_payments(sandbox: SandboxControl) -> None:
    created = await _post(sandbox, "/v1/payments", PAYMENT, **AUTH, **{"Idempotency-Key": "k"})
    page = await sandbox.client.get("/")
    assert f'href="/checkout/{created.json()["id"]}"' in page.text


async def test_submitted_transfers_wait_for_confirmation(
    sandbox: SandboxControl, adapters: Adapters
) -> None:
    await sandbox.configure(SandboxKnobs(confirm_transfers=False))
    sent = await call(adapters, "send_transfer")
    assert getattr(sent, "status", None) == "submitted"
    await sandbox.client.post("/sandbox/transfers/confirm")
    found = await call(adapters, "get_transfer")
    assert getattr(found, "status", None) == "confirmed"


async def test_knobs_are_read_replaced_and_reset(sandbox: SandboxControl) -> None:
    start = (await sandbox.client.get("/sandbox/config")).json()
    wanted = SandboxKnobs(latency_ms=5, retry_after_seconds=3)
    await sandbox.configure(wanted)
    assert (
        msgspec.convert((await sandbox.client.get("/sandbox/config")).json(), SandboxKnobs)
        == wanted
    )

    refused = await sandbox.client.put(
        "/sandbox/config",
        json={"faults": {"send_transfer": {"error_rate": 0.7, "timeout_rate": 0.7}}},
    )
    assert refused.status_code == 400
    unknown = await sandbox.client.put("/sandbox/config", json={"faults": {"nope": {}}})
    assert unknown.status_code == 400

    await sandbox.reset()
    assert (await sandbox.client.get("/sandbox/config")).json() == start


async def test_latency_is_added_to_every_call(sandbox: SandboxControl, adapters: Adapters) -> None:
    await sandbox.configure(SandboxKnobs(latency_ms=150))
    started = time.monotonic()
    await call(adapters, "get_transfer")
    assert time.monotonic() - started >= 0.15


async def test_random_faults_follow_their_rates(
    sandbox: SandboxControl, adapters: Adapters
) -> None:
    every_call = {"error_rate": 1.0}
    await sandbox.configure(msgspec.convert({"faults": {"get_transfer": every_call}}, SandboxKnobs))
    for _ in range(3):
        answer = await sandbox.client.get("/v1/transfers/by-key/k", headers=AUTH)
        assert answer.status_code == 503
    # Other endpoints are untouched.
    assert await call(adapters, "create_wallet") is not None
    assert (await sandbox.stats())["faults"] == {"error": 3}


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sandbox_command.register(parser.add_subparsers())
    return parser.parse_args(["sandbox", *argv])


def test_the_command_reads_flags_then_environment() -> None:
    env = {
        "PAYMENT_GATEWAY_API_KEY": "pk",
        "TRANSFER_API_KEY": "tk",
        "PAYMENT_WEBHOOK_SECRETS": "first,second",
        "SANDBOX_WEBHOOK_URL": "http://127.0.0.1:8000/api/webhooks/payments",
        "SANDBOX_LATENCY_MS": "40",
        "SANDBOX_ERROR_RATE": "0.1",
    }
    args = _args("--latency-ms", "50", "--rate-limit-rate", "0.2", "--port", "9999")
    config = sandbox_command.build_config(args, Settings.from_env(env), env)

    assert args.port == 9999
    assert (config.payment_api_key, config.wallet_api_key, config.transfer_api_key) == (
        "pk",
        "",
        "tk",
    )
    assert config.webhook_secret == "first"
    assert config.webhook_url == "http://127.0.0.1:8000/api/webhooks/payments"
    assert config.knobs.latency_ms == 50  # the flag wins over SANDBOX_LATENCY_MS
    rates = config.knobs.faults["send_transfer"]
    assert (rates.error_rate, rates.rate_limit_rate) == (0.1, 0.2)


def test_the_command_defaults() -> None:
    args = _args()
    config = sandbox_command.build_config(args, Settings.from_env({}), {})
    assert (args.host, args.port) == ("127.0.0.1", 8010)
    assert config.knobs == SandboxKnobs()
    assert config.webhook_url is None
