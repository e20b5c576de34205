"""ORDERS_MODE in the wiring (docs/adr/0008-orders-mode.md): production has no path to a fake,
an in-memory store or the in-process scheduler; dev says which stand-ins it uses, once."""

from __future__ import annotations

import logging

import pytest

from entrypoints.commands import worker as worker_command
from entrypoints.container import build_container, resolve, running
from entrypoints.settings import Settings, SettingsError
from entrypoints.worker import runner


def test_production_builds_no_container_with_a_setting_missing() -> None:
    with pytest.raises(SettingsError) as caught:
        build_container(Settings())
    assert set(caught.value.names) == {
        "MONGODB_URI",
        "REDIS_URL",
        "PAYMENT_GATEWAY_URL",
        "PAYMENT_GATEWAY_API_KEY",
        "PAYMENT_WEBHOOK_SECRETS",
        "WALLET_API_URL",
        "WALLET_API_KEY",
        "TRANSFER_API_URL",
        "TRANSFER_API_KEY",
    }


async def test_dev_mode_logs_one_warning_naming_every_stand_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(mode="dev", wallet_api_url="http://127.0.0.1:9", wallet_api_key="wk")
    with caplog.at_level(logging.INFO, logger="entrypoints.container"):
        async with running(settings) as container:
            kinds = await resolve(container.adapter_kinds, dict)
    assert kinds == {
        "repository": "memory",
        "payment_gateway": "fake",
        "wallet_service": "http",
        "transfer_service": "fake",
        "queue": "inprocess",
    }
    lines = [r for r in caplog.records if r.name == "entrypoints.container"]
    assert [r.levelno for r in lines] == [logging.WARNING]
    message = lines[0].getMessage()
    assert message.startswith("ORDERS_MODE=dev, never for production")
    assert message.endswith(
        "fake or in-memory: repository, payment_gateway, transfer_service, queue"
    )


def test_the_worker_command_states_the_runners_default_grace() -> None:
    assert worker_command.DEFAULT_GRACE_SECONDS == runner.DEFAULT_GRACE_SECONDS
