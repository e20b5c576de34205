"""The admin list under growing order books: p50 of ``GET /api/admin/orders``'s query (the
``SearchOrders`` use-case on ``MongoOrderQueries``: find + sort + limit 50, decoded into orders)
with each single filter and the default sort (created_at desc), at each size.

The book grows in place (``bench.generate_orders``): measure at the first size, insert up to the
next, measure again. Each row also names the winning plan's stages from ``explain``, so an
index-served query (IXSCAN, no SORT stage) is told from a scan. Target: p50 at 1 M <= 2 x p50 at
10 k. The server is ``--uri`` / ``MONGODB_TEST_URI`` (a real mongod) or a SecantusDB daemon.

    python -m bench.bench_admin [--sizes 10000,100000] [--rounds 15] [--uri mongodb://...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.mongo import close_client, ensure_schema, get_database, make_client
from adapters.mongo.queries import MongoOrderQueries, filter_query, sort_spec
from application.ports.order_queries import OrderFilters, OrderSort
from application.search_orders import SearchOrders
from bench.generate_orders import insert_orders
from domain import OrderStatus

DEFAULT_SORT = OrderSort()
FILTERS: list[tuple[str, OrderFilters]] = [
    ("none", OrderFilters()),
    ("status=completed", OrderFilters(statuses=frozenset({OrderStatus.COMPLETED}))),
    (
        "status=create_wallet_fail,send_token_to_smartwallet_fail",
        OrderFilters(
            statuses=frozenset(
                {OrderStatus.CREATE_WALLET_FAIL, OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL}
            )
        ),
    ),
    ("pool_id=pool-07", OrderFilters(pool_id="pool-07")),
    ("token_symbol=SOL", OrderFilters(token_symbol="SOL")),
    ("fiat_currency=GBP", OrderFilters(fiat_currency="GBP")),
    (
        "created in March 2026",
        OrderFilters(
            created_from=datetime(2026, 3, 1, tzinfo=UTC),
            created_to=datetime(2026, 4, 1, tzinfo=UTC),
        ),
    ),
    (
        "price_fiat 100..110",
        OrderFilters(min_price_fiat=Decimal("100"), max_price_fiat=Decimal("110")),
    ),
    ("parked=true", OrderFilters(parked_only=True)),
]


@contextmanager
def server(uri: str | None) -> Iterator[tuple[str, str]]:
    if uri:
        yield uri, "given --uri"
        return
    from bench.mongo import mongo_server  # noqa: PLC0415 - SecantusDB only if needed

    with mongo_server() as found:
        yield found


def _stages(plan: dict[str, Any]) -> list[str]:
    out = [str(plan.get("stage"))]
    if "inputStage" in plan:
        out += _stages(plan["inputStage"])
    for child in plan.get("inputStages", []):
        out += _stages(child)
    return out


async def _plan(collection: Any, filters: OrderFilters) -> str:
    explained = (
        await collection.find(filter_query(filters))
        .sort(sort_spec(DEFAULT_SORT))
        .limit(51)
        .explain()
    )
    winning = explained.get("queryPlanner", {}).get("winningPlan", {})
    winning = winning.get("queryPlan", winning)  # slot-based engine nests it
    names = _stages(winning)
    index = next((s.get("indexName") for s in _walk(winning) if s.get("indexName")), None)
    return ">".join(names) + (f" ({index})" if index else "")


def _walk(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    if "inputStage" in plan:
        yield from _walk(plan["inputStage"])
    for child in plan.get("inputStages", []):
        yield from _walk(child)


async def _p50(search: SearchOrders, filters: OrderFilters, rounds: int) -> float:
    await search.execute(filters, DEFAULT_SORT, limit=50)  # warm
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await search.execute(filters, DEFAULT_SORT, limit=50)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def run(uri: str, sizes: list[int], rounds: int) -> dict[int, dict[str, tuple[float, str]]]:
    client = make_client(uri, "pymongo", timeout_ms=None)
    results: dict[int, dict[str, tuple[float, str]]] = {}
    database = get_database(client, f"admin_bench_{uuid.uuid4().hex[:8]}")
    try:
        await ensure_schema(database)
        collection = database["orders"]
        search = SearchOrders(MongoOrderQueries(database))
        loaded = 0
        for size in sizes:
            started = time.perf_counter()
            rate = await insert_orders(collection, loaded, size)
            print(
                f"loaded {size - loaded:,} orders (total {size:,}) in "
                f"{time.perf_counter() - started:.1f} s ({rate:,.0f}/s)",
                flush=True,
            )
            loaded = size
            row: dict[str, tuple[float, str]] = {}
            for name, filters in FILTERS:
                row[name] = (await _p50(search, filters, rounds), await _plan(collection, filters))
                print(
                    f"  {size:>9,}  {name:<58} p50 {row[name][0]:8.1f} ms  {row[name][1]}",
                    flush=True,
                )
            results[size] = row
    finally:
        await client.drop_database(database.name)
        await close_client(client)
    return results


def _table(results: dict[int, dict[str, tuple[float, str]]], what: str) -> str:
    sizes = sorted(results)
    lines = [
        f"Server: {what}. p50 of {{rounds}} runs of one page (limit 50, created_at desc), ms.",
        "",
        "| filter | "
        + " | ".join(f"{s:,}" for s in sizes)
        + " | largest / smallest | plan at the largest size |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: | --- |",
    ]
    for name, _ in FILTERS:
        values = [results[s][name][0] for s in sizes]
        ratio = values[-1] / values[0] if values[0] else float("nan")
        lines.append(
            f"| {name} | "
            + " | ".join(f"{v:.1f}" for v in values)
            + f" | {ratio:.2f}x | {results[sizes[-1]][name][1]} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default=os.environ.get("MONGODB_TEST_URI"))
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated, ascending")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    with server(args.uri) as (uri, what):
        results = asyncio.run(run(uri, sizes, args.rounds))
    print()
    print(_table(results, what).replace("{rounds}", str(args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
