"""The worker's ``/metrics`` listener and its setting."""

from __future__ import annotations

import httpx
import pytest

from adapters.instrumented.metrics import DOWNSTREAM_CALLS
from entrypoints.settings import Settings, SettingsError
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


@pytest.mark.parametrize("value", ["9101", "host:", ":9101", "host:port", "h:70000"])
def test_a_malformed_metrics_address_stops_startup(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"WORKER_METRICS_ADDRESS": value})
    assert raised.value.name == "WORKER_METRICS_ADDRESS"


def test_the_metrics_address_is_optional() -> None:
    assert Settings.from_env({}).worker_metrics_address is None
    assert Settings.from_env({"WORKER_METRICS_ADDRESS": "0.0.0.0:9101"}).worker_metrics_address == (
        "0.0.0.0:9101"
    )
