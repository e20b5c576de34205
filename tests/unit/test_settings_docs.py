"""What is written about the settings is generated from their declarations
(entrypoints/settings.py) and must not drift from them: README's configuration table,
docs/settings.md, ``.env.example`` and the commands' ``--help``. docker-compose.yml is checked
against the same declarations in test_compose.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.cli import build_parser
from entrypoints.settings import GATEWAY, NOWPAYMENTS, Settings, declared
from entrypoints.settings_docs import env_example, render_into

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", "docs/settings.md"])
def test_the_settings_table_is_the_declared_one(document: str) -> None:
    text = (ROOT / document).read_text(encoding="utf-8")
    assert render_into(text) == text, (
        f"{document} is stale: run orders-service settings --write {document}"
    )
    for name in Settings.NAMES:
        assert f"| `{name}` |" in text, name


def test_env_example_is_the_declared_production_configuration() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == env_example(), (
        ".env.example is stale: run orders-service settings --format env --write .env.example"
    )
    values = dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    # The other provider's settings are there, commented out.
    other = {var.env for _, var, _ in declared() if var.provider == NOWPAYMENTS}
    assert list(values) == [name for name in Settings.NAMES if name not in other]
    commented = dict(
        line[2:].split("=", 1) for line in text.splitlines() if line[2:].split("=")[0] in other
    )
    assert set(commented) == other
    # A production configuration the API and the worker accept as it stands.
    settings = Settings.from_env(values, runs_pipeline=True)
    assert settings.mode == "production"
    assert settings.payment_provider == GATEWAY
    # And with NOWPayments: its lines uncommented, the generic gateway's removed.
    gateway_only = {var.env for _, var, _ in declared() if var.provider == GATEWAY}
    nowpayments = {k: v for k, v in values.items() if k not in gateway_only}
    nowpayments |= commented | {"PAYMENT_PROVIDER": NOWPAYMENTS}
    settings = Settings.from_env(nowpayments, runs_pipeline=True)
    assert settings.payment_provider == NOWPAYMENTS
    assert settings.payment_gateway_url is None


def test_production_requires_the_storage_the_queue_and_every_downstream() -> None:
    required = [(var.env, var.provider) for _, var, _ in declared() if var.required]
    assert required == [
        ("MONGODB_URI", ""),
        ("REDIS_URL", ""),
        ("PAYMENT_GATEWAY_URL", GATEWAY),
        ("PAYMENT_GATEWAY_API_KEY", GATEWAY),
        ("PAYMENT_WEBHOOK_SECRETS", GATEWAY),
        ("NOWPAYMENTS_API_URL", NOWPAYMENTS),
        ("NOWPAYMENTS_API_KEY", NOWPAYMENTS),
        ("NOWPAYMENTS_IPN_SECRET", NOWPAYMENTS),
        ("NOWPAYMENTS_PAY_CURRENCY", NOWPAYMENTS),
        ("PUBLIC_BASE_URL", NOWPAYMENTS),
        ("WALLET_API_URL", ""),
        ("WALLET_API_KEY", ""),
        ("TRANSFER_API_URL", ""),
        ("TRANSFER_API_KEY", ""),
    ]
    for name in Settings.NAMES:
        assert f"\n{name}=" in env_example() or f"\n# {name}=" in env_example()


@pytest.mark.parametrize("command", ["api", "worker"])
def test_the_commands_help_lists_every_variable(command: str) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert isinstance(subparsers.choices, dict)
    help_text = subparsers.choices[command].format_help()
    for _, var, _ in declared():
        mark = "*" if var.required else ""
        assert f"  {var.env}{mark} " in help_text, var.env
