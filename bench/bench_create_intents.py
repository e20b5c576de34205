"""What the payment intent (ADR 0012, NOWPayments only) adds to one create, on the Mongo-wire
server.

``CreateOrder`` with and without ``MongoPaymentIntents``, same repository, same server, same
driver, rounds alternating so drift hits both sides. The gateway is the in-process fake (no
I/O): the figures are the store's part of a create. With intents a create also claims the
order's intent (one ``findAndModify`` with ``upsert``), reads the order again, and deletes the
intent: two journaled writes and one read more than the create's own read and insert.

    python -m bench.bench_create_intents [--ops 100] [--rounds 9] [--driver pymongo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import uuid
from datetime import timedelta

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from adapters.mongo import MongoOrderRepository, MongoPaymentIntents
from application.create_order import CreateOrder, IntentTimings
from bench.mongo import Op, arguments, bench_database, on_a_server, timed
from tests.support.orders import order_request


async def run(uri: str, args: argparse.Namespace) -> dict[str, float]:
    """Median over rounds of the mean µs per create, per side."""
    async with bench_database(uri, args.driver) as db:
        clock = SystemClock()
        repository = MongoOrderRepository(db)
        timings = IntentTimings(lease=timedelta(seconds=58))
        gateway = FakePaymentGateway(clock)  # one: its payment ids are unique across sides
        sides = {
            "without intents (gateway)": CreateOrder(repository, gateway, clock),
            "with intents (nowpayments)": CreateOrder(
                repository, gateway, clock, MongoPaymentIntents(db), timings
            ),
        }

        def creator(create: CreateOrder) -> Op:
            run_id = uuid.uuid4().hex[:8]

            async def one(i: int) -> object:
                return await create.execute(order_request(f"bench-{run_id}-{i}"))

            return one

        samples: dict[str, list[float]] = {name: [] for name in sides}
        for create in sides.values():
            await timed(creator(create), max(args.ops // 10, 1))  # warm up
        for _ in range(args.rounds):
            for name, create in sides.items():
                samples[name].append(await timed(creator(create), args.ops))
        return {name: statistics.median(values) for name, values in samples.items()}


def report(medians: dict[str, float], args: argparse.Namespace, server: str) -> str:
    base = medians["without intents (gateway)"]
    lines = [
        f"server: {server}; driver: {args.driver}; {args.ops} creates x {args.rounds} rounds "
        "per side (median of round means)",
        "",
        "| one create, store's part | µs/create | ratio |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {us:.0f} | {us / base:.2f}x |" for name, us in medians.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, orders=0, ops=100, rounds=9)
    medians, server = on_a_server(lambda uri: run(uri, args))
    print(report(medians, args, server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
