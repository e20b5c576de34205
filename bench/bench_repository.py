"""The Mongo repository against the raw driver on the same server, in one run.

Three operations, each timed through ``MongoOrderRepository`` and then done by hand with the same
driver on the same collection:

- get-by-reference: ``get_by_reference_id`` vs ``find_one({"reference_id": ...})`` (raw: a dict,
  no decoding);
- get-by-payment-id: ``get_by_payment_id`` vs ``find_one({"payment.id": ...})``;
- save (compare-and-set): ``save(order, expected_version=v)`` vs ``replace_one({_id, version: v},
  document)`` with a document encoded once beforehand (same bytes on the wire, no codec).

So the ratio is the cost of the codec (Decimal128, dates, the Order) and the error translation.
Rounds alternate repository and raw so drift hits both; the median of the per-round means is
reported. The server is ``MONGODB_TEST_URI`` or a SecantusDB daemon started as its own process
(in-process it would share the GIL with the client and blur the ratio).

    python -m bench.bench_repository [--orders 200] [--ops 100] [--rounds 20] [--driver pymongo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

import bson
from bson.codec_options import CodecOptions

from adapters.mongo import (
    MongoOrderRepository,
    document_to_order,
    order_to_document,
)
from bench.mongo import Op, arguments, bench_database, on_a_server, timed
from domain import Order
from tests.contract.orders import completed, new_order, paid


@dataclass
class Row:
    operation: str
    repository_us: float
    raw_us: float

    @property
    def ratio(self) -> float:
        return self.repository_us / self.raw_us


async def _compare(name: str, repo_op: Op, raw_op: Op, ops: int, rounds: int) -> Row:
    await timed(repo_op, max(ops // 10, 1))  # warm up the pool and the caches
    await timed(raw_op, max(ops // 10, 1))
    repo, raw = [], []
    for _ in range(rounds):
        repo.append(await timed(repo_op, ops))
        raw.append(await timed(raw_op, ops))
    return Row(name, statistics.median(repo), statistics.median(raw))


async def run(uri: str, args: argparse.Namespace) -> list[Row]:
    async with bench_database(uri, args.driver) as db:
        repository = MongoOrderRepository(db)
        orders = [paid(new_order(i), 1) for i in range(args.orders)]
        for order in orders:
            await repository.add(order)
        raw = db["orders"]
        n = args.orders

        async def repo_by_reference(i: int) -> object:
            return await repository.get_by_reference_id(f"ref-{i % n}")

        async def raw_by_reference(i: int) -> object:
            return await raw.find_one({"reference_id": f"ref-{i % n}"})

        async def repo_by_payment(i: int) -> object:
            return await repository.get_by_payment_id(f"pay-{i % n}")

        async def raw_by_payment(i: int) -> object:
            query = {"$eq": f"pay-{i % n}", "$exists": True, "$type": "string"}
            return await raw.find_one({"payment.id": query})

        # Save: each op writes one order at its current version. The repository encodes the
        # Order; raw replaces with a document encoded before timing (only the version moves).
        documents: list[dict[str, Any]] = [order_to_document(o) for o in orders]

        async def repo_save(i: int) -> object:
            order: Order = orders[i % n]
            await repository.save(order, expected_version=order.version)
            documents[i % n]["version"] = order.version
            return None

        async def raw_save(i: int) -> object:
            document = documents[i % n]
            version = document["version"]
            document["version"] = version + 1
            result = await raw.replace_one({"_id": document["_id"], "version": version}, document)
            assert result.matched_count == 1
            orders[i % n].version = version + 1
            return result

        return [
            await _compare(
                "get by reference_id", repo_by_reference, raw_by_reference, args.ops, args.rounds
            ),
            await _compare(
                "get by payment.id", repo_by_payment, raw_by_payment, args.ops, args.rounds
            ),
            await _compare("save (compare-and-set)", repo_save, raw_save, args.ops, args.rounds),
        ]


def codec_cost(n: int = 5000) -> tuple[float, float]:
    """(encode, decode) µs per order, no I/O: the floor of the repository's extra cost."""
    order = completed(new_order(1), 1)
    document: dict[str, Any] = bson.decode(
        bson.encode(order_to_document(order)), CodecOptions(tz_aware=True)
    )
    started = time.perf_counter()
    for _ in range(n):
        order_to_document(order)
    encode = (time.perf_counter() - started) / n * 1e6
    started = time.perf_counter()
    for _ in range(n):
        document_to_order(document)
    return encode, (time.perf_counter() - started) / n * 1e6


def report(rows: list[Row], args: argparse.Namespace, server: str) -> str:
    lines = [
        f"server: {server}; driver: {args.driver}; {args.orders} orders; "
        f"{args.ops} ops x {args.rounds} rounds per side (median of round means)",
        "",
        "| operation | repository (µs/op) | raw driver (µs/op) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r.operation} | {r.repository_us:.0f} | {r.raw_us:.0f} | {r.ratio:.2f}x |" for r in rows
    ]
    encode, decode = codec_cost()
    lines += ["", f"codec alone (no I/O): encode {encode:.0f} µs, decode {decode:.0f} µs per order"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__, argv, orders=200, ops=100, rounds=20)
    rows, server = on_a_server(lambda uri: run(uri, args))
    print(report(rows, args, server))
    return 0


if __name__ == "__main__":
    sys.exit(main())
