"""``orders-service api`` as a user starts it: a real process on a loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from entrypoints.settings import Settings
from tests.services import free_port

CLI = str(Path(sys.executable).with_name("orders-service"))


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    env["ORDERS_MODE"] = "dev"
    env.update(values)
    return env


def test_a_bad_setting_stops_startup_with_exit_code_2_naming_it() -> None:
    result = subprocess.run(  # noqa: S603 - our own console script
        [CLI, "api", "--port", str(free_port())],
        env=_env(PAYMENT_GATEWAY_URL="ftp://gateway"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "PAYMENT_GATEWAY_URL" in result.stderr


def test_the_command_serves_the_api_on_the_given_port() -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(PAYMENT_WEBHOOK_SECRETS="s1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the API did not start within 20 s"
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
