"""The worker's metrics listener, over real HTTP on loopback."""

from __future__ import annotations

import httpx
import pytest

from adapters.instrumented.metrics import DOWNSTREAM_CALLS
from entrypoints.worker.metrics_server import serve_metrics


def test_the_worker_serves_its_counters_on_the_configured_address() -> None:
    DOWNSTREAM_CALLS.labels("wallet", "create_wallet", "timeout").inc()
    listener = serve_metrics("127.0.0.1:0")
    try:
        response = httpx.get(f"http://127.0.0.1:{listener.port}/metrics", timeout=5)
    finally:
        listener.stop()

    assert response.status_code == 200
    assert (
        'orders_downstream_calls_total{operation="create_wallet",outcome="timeout",'
        'service="wallet"}' in response.text
    )
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{listener.port}/metrics", timeout=1)
