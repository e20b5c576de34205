"""The worker's ``/metrics`` listener and its setting."""

from __future__ import annotations

import pytest

from entrypoints.settings import Settings, SettingsError


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
