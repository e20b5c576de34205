"""``orders-service dev`` without starting anything: the wiring it gives the three processes,
its port checks, and the session it prints (which the README repeats)."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devstack import curl_session, stack_environment
from entrypoints.cli import build_parser
from entrypoints.commands.sandbox import build_config
from entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def wired(base: dict[str, str] | None = None) -> dict[str, str]:
    return stack_environment(
        base or {},
        api_port=8000,
        sandbox_port=8010,
        redis_url="redis://127.0.0.1:16379",
        mongodb_uri="mongodb://127.0.0.1:27017/?retryWrites=false",
    )


def test_the_demo_shop_origin_is_allowed_next_to_the_callers() -> None:
    assert Settings.from_env(wired()).cors_allowed_origins == ("http://127.0.0.1:8010",)
    given = wired({"CORS_ALLOWED_ORIGINS": "http://localhost:3000,http://127.0.0.1:8010"})
    assert Settings.from_env(given).cors_allowed_origins == (
        "http://localhost:3000",
        "http://127.0.0.1:8010",
    )


def test_the_three_processes_are_wired_to_each_other() -> None:
    env = wired()
    settings = Settings.from_env(env)
    for url in (settings.payment_gateway_url, settings.wallet_api_url, settings.transfer_api_url):
        assert url == "http://127.0.0.1:8010"
    assert settings.sandbox_webhook_url == "http://127.0.0.1:8000/api/webhooks/payments"
    assert settings.redis_url == "redis://127.0.0.1:16379"
    assert settings.mongodb_uri == "mongodb://127.0.0.1:27017/?retryWrites=false"
    # The sandbox, configured from the same environment, signs with a secret the API accepts
    # and expects the keys the API and the worker send.
    args = build_parser().parse_args(["sandbox"])
    sandbox = build_config(args, settings, env)
    assert sandbox.webhook_secret in settings.payment_webhook_secrets
    assert sandbox.webhook_url == settings.sandbox_webhook_url
    assert sandbox.payment_api_key == settings.payment_gateway_api_key != ""
    assert sandbox.wallet_api_key == settings.wallet_api_key != ""
    assert sandbox.transfer_api_key == settings.transfer_api_key != ""
    assert settings.admin_token


def test_secrets_are_new_for_every_run() -> None:
    first, second = wired(), wired()
    for name in ("PAYMENT_WEBHOOK_SECRETS", "PAYMENT_GATEWAY_API_KEY", "ADMIN_TOKEN"):
        assert first[name] != second[name]


def test_the_wiring_wins_over_the_callers_environment_other_settings_are_kept() -> None:
    env = wired(
        {
            "PAYMENT_GATEWAY_URL": "https://pay.example.com",
            "SANDBOX_WEBHOOK_URL": "https://elsewhere.example.com/hook",
            "ADMIN_TOKEN": "my-token",
            "PENDING_RECHECK_SECONDS": "5",
            "MONGODB_DB_NAME": "mine",
        }
    )
    assert urlsplit(env["PAYMENT_GATEWAY_URL"]).hostname == "127.0.0.1"
    assert urlsplit(env["SANDBOX_WEBHOOK_URL"]).port == 8000
    assert env["ADMIN_TOKEN"] == "my-token"
    assert env["PENDING_RECHECK_SECONDS"] == "5"
    assert env["MONGODB_DB_NAME"] == "mine"


def test_ports_are_checked_by_the_parser() -> None:
    args = build_parser().parse_args(["dev"])
    assert (args.port, args.sandbox_port) == (8000, 8010)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["dev", "--port", "70000"])
    assert isinstance(build_parser().parse_args(["dev", "--port", "0"]), argparse.Namespace)


def test_the_readme_shows_the_session_dev_prints() -> None:
    session = curl_session("http://127.0.0.1:8000", "http://127.0.0.1:8010")
    assert session in (ROOT / "README.md").read_text()


def test_with_nowpayments_the_api_and_the_sandbox_share_its_key_and_ipn_secret() -> None:
    env = wired({"PAYMENT_PROVIDER": "nowpayments"})
    settings = Settings.from_env(env, runs_pipeline=True)
    assert settings.payment_provider == "nowpayments"
    assert settings.nowpayments_api_url == "http://127.0.0.1:8010"
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.nowpayments_pay_currency == "sol"
    config = build_config(build_parser().parse_args(["sandbox"]), settings, env)
    assert config.nowpayments_api_key == settings.nowpayments_api_key
    assert config.nowpayments_ipn_secret == settings.nowpayments_ipn_secret
    assert build_parser().parse_args(["dev", "--provider", "nowpayments"]).provider == (
        "nowpayments"
    )
