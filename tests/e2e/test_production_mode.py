"""``ORDERS_MODE=production`` (the default) as an operator meets it: ``orders-service api`` and
``worker`` refuse to start without every real adapter configured (exit code 2, every missing
variable named, no secret shown), and start on real ones: Redis, the Mongo-wire server and the
sandbox as the three downstream services (docs/adr/0008-orders-mode.md)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from entrypoints.settings import Settings
from tests.e2e.stack import isolated_redis, log_of, orders_service, running_stack, wait_until

#: Every variable production requires, with values that are never reached: the processes must
#: stop on the missing one before any I/O.
COMPLETE = {
    "MONGODB_URI": "mongodb://127.0.0.1:9/?retryWrites=false",
    "REDIS_URL": "redis://127.0.0.1:9/0",
    "PAYMENT_GATEWAY_URL": "http://127.0.0.1:9",
    "PAYMENT_GATEWAY_API_KEY": "pk_secret_value_1",
    "PAYMENT_WEBHOOK_SECRETS": "whsec_secret_value_0123456789",
    "WALLET_API_URL": "http://127.0.0.1:9",
    "WALLET_API_KEY": "wk_secret_value_1",
    "TRANSFER_API_URL": "http://127.0.0.1:9",
    "TRANSFER_API_KEY": "tk_secret_value_1",
}
SECRETS = ("pk_secret_value_1", "whsec_secret_value", "wk_secret_value_1", "tk_secret_value_1")
COMMANDS = {"api": ["api", "--port", "0"], "worker": ["worker"]}


def _run(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    return subprocess.run(  # noqa: S603 - our own console script
        [orders_service(), *COMMANDS[command]],
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("removed", [*COMPLETE, "all"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_production_refuses_to_start_without_each_required_variable(
    command: str, removed: str
) -> None:
    env = {} if removed == "all" else {k: v for k, v in COMPLETE.items() if k != removed}
    result = _run(command, env)
    assert result.returncode == 2, result.stderr
    missing = list(COMPLETE) if removed == "all" else [removed]
    for name in missing:
        assert name in result.stderr
    # One message naming them, not a crash; no secret value in it.
    assert "Traceback" not in result.stderr
    for secret in SECRETS:
        assert secret not in result.stderr


def test_production_starts_on_real_adapters_and_ready_says_so(
    redis_url: str, mongo_uri: str, tmp_path: Path
) -> None:
    with running_stack(
        redis_url=isolated_redis(redis_url),
        mongodb_uri=mongo_uri,
        logs=tmp_path,
        extra_env={"ORDERS_MODE": "production", "LOG_LEVEL": "info"},
    ) as stack:
        response = httpx.get(f"{stack.api_url}/ready", timeout=5)
        assert response.status_code == 200, response.text
        assert response.json()["adapters"] == {
            "repository": "mongo",
            "payment_gateway": "http",
            "wallet_service": "http",
            "transfer_service": "http",
            "queue": "saq",
        }
        expected = (
            "ORDERS_MODE=production, adapters: repository=mongo payment_gateway=http "
            "wallet_service=http transfer_service=http queue=saq"
        )
        wait_until(
            lambda: expected in log_of(stack.worker).read_text(errors="replace"),
            seconds=60,
            what="the worker's startup line",
        )
        assert expected in log_of(stack.api).read_text(errors="replace")
        assert stack.worker.alive()
        for process in (stack.api, stack.worker):
            assert "ORDERS_MODE=dev" not in log_of(process).read_text(errors="replace")
