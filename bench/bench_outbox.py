"""What the outbox (ADR 0013) adds to one order save on the Mongo-wire server.

A status move is one ``MongoOrderRepository.save``: a conditional ``replace_one`` of the whole
document, which now carries the order's events. Timed per save, on the same server, same
driver, rounds alternating so drift hits every side:

- **without**: the order with its events removed (the document as it was before the outbox);
- **with, typical**: a completed order's document with its 8 events (created … completed);
- **with, long**: the same order carrying 40 events (a step failed and retried many times);
- **separate collection (lower bound)**: the save without events, then an ``insert_one`` of the
  save's one new event into ``order_events``: the second round trip the alternative design
  needs even before the multi-document transaction it would also need.

The ratio is each side's median µs per save over the "without" side's. Beside it, the codec
alone (no I/O): encoding and decoding a completed order with and without its 8 events, the CPU a
read (``GET /api/orders/{id}`` on Mongo) pays for the events too.

    python -m bench.bench_outbox [--orders 100] [--ops 100] [--rounds 15] [--driver pymongo]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import bson
from bson.codec_options import CodecOptions

from adapters.mongo import (
    MongoOrderRepository,
    document_to_order,
    order_to_document,
)
from bench.mongo import Op, arguments, bench_database, on_a_server, timed
from domain import EventType, Order, OrderEvent, event_id
from tests.contract.orders import completed, new_order


def _padded(order: Order, total: int) -> Order:
    """``order`` with its events extended to ``total`` by step_failed / step_started pairs."""
    padded = list(order.events)
    while len(padded) < total:
        n = len(padded) + 1
        kind = EventType.STEP_FAILED if n % 2 else EventType.STEP_STARTED
        data: dict[str, str | int | bool | None] = {
            "status": "send_token_to_smartwallet_fail",
            "step": "send_token",
            "attempt": n // 2,
            "reason": "transfer service: 503 Service Unavailable",
            "retry_at": (order.updated_at + timedelta(seconds=n)).isoformat(),
        }
        padded.append(OrderEvent(event_id(order.id, n), order.id, n, kind, order.updated_at, data))
    order.events = padded
    order.stored_events = len(padded)
    return order


async def run(uri: str, args: argparse.Namespace) -> dict[str, float]:
    async with bench_database(uri, args.driver) as db:
        repository = MongoOrderRepository(db)
        n = args.orders
        sides: dict[str, list[Order]] = {}
        shapes: list[tuple[str, Callable[[Order], Order]]] = [
            ("without events", lambda o: dataclasses.replace(o, events=[], stored_events=0)),
            ("with 8 events (typical)", lambda o: o),
            ("with 40 events (many retries)", lambda o: _padded(o, 40)),
            ("separate collection, lower bound", lambda o: dataclasses.replace(o, events=[])),
        ]
        for k, (name, shape) in enumerate(shapes):
            orders = [
                shape(completed(new_order(i, reference_id=f"s{k}-{i}", payment_id=f"p{k}-{i}"), 1))
                for i in range(n)
            ]
            for order in orders:
                await repository.add(order)
            sides[name] = orders
        typical = sides["with 8 events (typical)"][0].events[-1]
        events = db["order_events"]

        def saver(orders: list[Order], with_insert: bool) -> Op:
            async def save(i: int) -> None:
                order = orders[i % n]
                await repository.save(order, expected_version=order.version)
                if with_insert:
                    await events.insert_one(
                        {
                            "_id": f"{order.id}:{order.version}",
                            "order_id": order.id,
                            "type": typical.type.value,
                            "at": typical.at,
                            "data": dict(typical.data),
                        }
                    )

            return save

        ops = {name: saver(orders, name.startswith("separate")) for name, orders in sides.items()}
        for op in ops.values():
            await timed(op, max(args.ops // 10, 1))  # warm up
        samples: dict[str, list[float]] = {name: [] for name in ops}
        for _ in range(args.rounds):
            for name, op in ops.items():
                samples[name].append(await timed(op, args.ops))
        return {name: statistics.median(values) for name, values in samples.items()}


def codec_cost(n: int = 3000, rounds: int = 5) -> dict[str, tuple[float, float]]:
    """(encode, decode) µs per order, no I/O, with and without its events."""
    order = completed(new_order(1), 1)
    bare = dataclasses.replace(order, events=[], stored_events=0)
    found: dict[str, tuple[float, float]] = {}
    for name, subject in (("with 8 events", order), ("without events", bare)):
        document: dict[str, Any] = bson.decode(
            bson.encode(order_to_document(subject)), CodecOptions(tz_aware=True)
        )
        encode, decode = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(n):
                order_to_document(subject)
            encode.append((time.perf_counter() - started) / n * 1e6)
            started = time.perf_counter()
            for _ in range(n):
                document_to_order(document)
            decode.append((time.perf_counter() - started) / n * 1e6)
        found[name] = (statistics.median(encode), statistics.median(decode))
    return found


def report(medians: dict[str, float], args: argparse.Namespace, server: str) -> str:
    base = medians["without events"]
    lines = [
        f"server: {server}; driver: {args.driver}; {args.orders} orders per side; "
        f"{args.ops} saves x {args.rounds} rounds per side (median of round means)",
        "",
        "| one order save | µs/save | ratio to without |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {us:.0f} | {us / base:.2f}x |" for name, us in medians.items()]
    lines += [
        "",
        "| codec alone, completed order | encode (µs) | decode (µs) |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {e:.0f} | {d:.0f} |" for name, (e, d) in codec_cost().items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, orders=100, ops=100, rounds=15)
    medians, server = on_a_server(lambda uri: run(uri, args))
    print(report(medians, args, server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
