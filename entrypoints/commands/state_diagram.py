"""``orders-service state-diagram``: the Mermaid diagram of ``TRANSITIONS``, printed or written
into docs/state-machine.md between its markers (a test fails when the doc drifts)."""

from __future__ import annotations

import argparse
from pathlib import Path

from domain import TERMINAL_STATUSES, TRANSITIONS, OrderStatus

BEGIN = "<!-- BEGIN GENERATED: orders-service state-diagram -->"
END = "<!-- END GENERATED -->"

#: Why each move happens, for the edge labels.
LABELS: dict[tuple[OrderStatus, OrderStatus], str] = {
    (OrderStatus.PENDING, OrderStatus.COMPLETED_PAY): "gateway says completed",
    (OrderStatus.PENDING, OrderStatus.FAILED_PAY): "gateway says failed or expired",
    (OrderStatus.COMPLETED_PAY, OrderStatus.CREATING_WALLET): "no wallet address",
    (OrderStatus.COMPLETED_PAY, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET): "has a wallet address",
    (OrderStatus.CREATING_WALLET, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET): "wallet created",
    (OrderStatus.CREATING_WALLET, OrderStatus.CREATE_WALLET_FAIL): "wallet call failed",
    (OrderStatus.CREATE_WALLET_FAIL, OrderStatus.CREATING_WALLET): "retry (backoff)",
    (OrderStatus.SENDING_TOKEN_TO_SMARTWALLET, OrderStatus.COMPLETED): "transfer confirmed",
    (
        OrderStatus.SENDING_TOKEN_TO_SMARTWALLET,
        OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL,
    ): "transfer failed",
    (OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET): (
        "retry (backoff)"
    ),
}


def mermaid() -> str:
    """The diagram, one edge per entry of the table, in the table's order."""
    lines = ["```mermaid", "stateDiagram-v2", f"    [*] --> {OrderStatus.PENDING.value}"]
    for source, targets in TRANSITIONS.items():
        for target in sorted(targets, key=list(OrderStatus).index):
            label = LABELS.get((source, target), "")
            lines.append(f"    {source.value} --> {target.value}" + (f": {label}" if label else ""))
    lines.extend(
        f"    {status.value} --> [*]" for status in OrderStatus if status in TERMINAL_STATUSES
    )
    lines.append("```")
    return "\n".join(lines)


def render_into(document: str) -> str:
    """``document`` with the text between the markers replaced by the current diagram."""
    head, found, rest = document.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"the document lacks the markers {BEGIN!r} … {END!r}")
    return f"{head}{BEGIN}\n{mermaid()}\n{END}{tail}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("state-diagram", help="print the Mermaid diagram of the table")
    parser.add_argument("--write", type=Path, help="rewrite the diagram inside this Markdown file")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.write is None:
        print(mermaid())
        return 0
    path: Path = args.write
    path.write_text(render_into(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0
