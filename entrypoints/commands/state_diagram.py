"""``orders-service state-diagram``: the Mermaid diagram of ``TRANSITIONS``, printed or written
into docs/state-machine.md between its markers (a test fails when the doc drifts);
``--refunds``: the same for ``REFUND_TRANSITIONS`` into docs/refunds.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from domain import (
    FINAL_REFUND_STATUSES,
    REFUND_TRANSITIONS,
    TERMINAL_STATUSES,
    TRANSITIONS,
    OrderStatus,
    RefundStatus,
)

BEGIN = "<!-- BEGIN GENERATED: orders-service state-diagram -->"
REFUND_BEGIN = "<!-- BEGIN GENERATED: orders-service state-diagram --refunds -->"
END = "<!-- END GENERATED -->"

#: Why each refund move happens, for the edge labels.
REFUND_LABELS: dict[tuple[RefundStatus, RefundStatus], str] = {
    (RefundStatus.REQUESTED, RefundStatus.PENDING): "gateway accepted it",
    (RefundStatus.REQUESTED, RefundStatus.SUCCEEDED): "gateway refunded at once",
    (RefundStatus.REQUESTED, RefundStatus.FAILED): "gateway failed it at once",
    (RefundStatus.PENDING, RefundStatus.SUCCEEDED): "lookup: succeeded",
    (RefundStatus.PENDING, RefundStatus.FAILED): "lookup: failed (parked for a person)",
}
#: How a refund comes to be (the edge from the start).
REFUND_START = "late payment, amount/currency mismatch, or an operator (parked order)"

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


def refund_mermaid() -> str:
    """The refund lifecycle's diagram, one edge per entry of its table, in the table's order."""
    lines = [
        "```mermaid",
        "stateDiagram-v2",
        f"    [*] --> {RefundStatus.REQUESTED.value}: {REFUND_START}",
    ]
    for source, targets in REFUND_TRANSITIONS.items():
        for target in sorted(targets, key=list(RefundStatus).index):
            label = REFUND_LABELS.get((source, target), "")
            lines.append(f"    {source.value} --> {target.value}" + (f": {label}" if label else ""))
    lines.extend(f"    {s.value} --> [*]" for s in RefundStatus if s in FINAL_REFUND_STATUSES)
    lines.append("```")
    return "\n".join(lines)


def render_into(document: str, *, refunds: bool = False) -> str:
    """``document`` with the text between the markers replaced by the current diagram (the
    refund lifecycle's with ``refunds``)."""
    begin, diagram = (REFUND_BEGIN, refund_mermaid()) if refunds else (BEGIN, mermaid())
    head, found, rest = document.partition(begin)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"the document lacks the markers {begin!r} … {END!r}")
    return f"{head}{begin}\n{diagram}\n{END}{tail}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("state-diagram", help="print the Mermaid diagram of the table")
    parser.add_argument("--write", type=Path, help="rewrite the diagram inside this Markdown file")
    parser.add_argument(
        "--refunds", action="store_true", help="the refund lifecycle's table instead"
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    if args.write is None:
        print(refund_mermaid() if args.refunds else mermaid())
        return 0
    path: Path = args.write
    text = render_into(path.read_text(encoding="utf-8"), refunds=args.refunds)
    path.write_text(text, encoding="utf-8")
    return 0
