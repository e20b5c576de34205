"""The simulate command, end to end on fakes, with its checks."""

from __future__ import annotations

import pytest

from entrypoints.cli import main


def test_simulate_completes_every_paid_order_under_faults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["simulate", "--orders", "300", "--fault-rate", "0.3", "--seed", "7", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "every paid order completed" in out
    paid = int(out.split("(")[1].split(" paid")[0])
    assert f"completed                        {paid}" in out
    assert f"transfers made: {paid} " in out


def test_simulate_refuses_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--orders", "0"]) == 2
