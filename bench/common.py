"""Plumbing the benchmarks share: a percentile and the sandbox as a process (free ports come from
``devstack``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx

from devstack import free_port

#: The bearer key the benchmarks' sandbox expects on all three services.
SANDBOX_API_KEY = "bench-key"


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of ``values`` (``p`` in 0..100)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def start_sandbox(
    latency_ms: float, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``orders-service sandbox`` on a free port with ``latency_ms`` per call and no webhooks
    (``extra_env`` added to its environment); returns the process and its base URL once it
    answers."""
    port = free_port()
    env = os.environ | {
        "PAYMENT_GATEWAY_API_KEY": SANDBOX_API_KEY,
        "WALLET_API_KEY": SANDBOX_API_KEY,
        "TRANSFER_API_KEY": SANDBOX_API_KEY,
        # The simulated vendors' own request lines, not the service's: not a cost it pays.
        "LOG_LEVEL": "warning",
        "PAYMENT_WEBHOOK_SECRETS": "",
        "SANDBOX_WEBHOOK_URL": "",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "entrypoints.commands.sandbox", "--port", str(port)]
    command += ["--latency-ms", str(latency_ms)]
    process = subprocess.Popen(command, env=env)  # noqa: S603 - our own module, our own numbers
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/sandbox/stats", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the sandbox did not start")
