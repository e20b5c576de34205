"""Docs that are generated from code must not drift from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain import REFUND_TRANSITIONS, TRANSITIONS
from entrypoints.commands.state_diagram import BEGIN, END, mermaid, refund_mermaid, render_into

ROOT = Path(__file__).resolve().parents[2]


def test_the_state_machine_doc_shows_the_current_table() -> None:
    document = (ROOT / "docs" / "state-machine.md").read_text(encoding="utf-8")
    assert render_into(document) == document, (
        "docs/state-machine.md is stale: run orders-service state-diagram --write "
        "docs/state-machine.md"
    )


def test_the_diagram_has_one_edge_per_entry_of_the_table() -> None:
    edges = [line for line in mermaid().splitlines() if "-->" in line and "[*]" not in line]
    assert len(edges) == sum(len(targets) for targets in TRANSITIONS.values())
    for source, targets in TRANSITIONS.items():
        for target in targets:
            assert any(e.strip().startswith(f"{source.value} --> {target.value}") for e in edges)


def test_rendering_needs_both_markers() -> None:
    assert BEGIN in render_into(f"x\n{BEGIN}\nold\n{END}\ny")


def test_the_refunds_doc_shows_the_current_refund_table() -> None:
    document = (ROOT / "docs" / "refunds.md").read_text(encoding="utf-8")
    assert render_into(document, refunds=True) == document, (
        "docs/refunds.md is stale: run orders-service state-diagram --refunds --write "
        "docs/refunds.md"
    )


def test_the_refund_diagram_has_one_edge_per_entry_of_its_table() -> None:
    edges = [line for line in refund_mermaid().splitlines() if "-->" in line and "[*]" not in line]
    assert len(edges) == sum(len(targets) for targets in REFUND_TRANSITIONS.values())
    for source, targets in REFUND_TRANSITIONS.items():
        for target in targets:
            assert any(e.strip().startswith(f"{source.value} --> {target.value}") for e in edges)
    with pytest.raises(ValueError, match="--refunds"):
        render_into(f"x\n{BEGIN}\nold\n{END}\ny", refunds=True)
