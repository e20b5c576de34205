"""The event relay as shipped: events per second a worker process delivers to the sandbox's
merchant receiver, which answers each delivery after a fixed delay (50 ms by default).

The orders (completed ones, six events each) are stored in a Mongo-wire server first
(``MONGODB_TEST_URI``, else a SecantusDB daemon run for this benchmark); then one
``orders-service worker`` (``ORDERS_MODE=dev``, real Mongo and Redis, ``WORKER_CONCURRENCY``
20 by default) relays them: its relay cron, the merchant webhook subscriber with its HMAC
signature, a compare-and-set write per event. The rate is the receiver's: new events recorded
from the first to the last. The bound is what the relay could do if nothing but the receiver's
delay counted: concurrency / delay (events of one order go one after another, orders in
parallel).

    REDIS_URL=redis://127.0.0.1:6379 python -m bench.bench_relay [--orders 200]
        [--concurrency 20] [--delay-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from adapters.mongo import (
    MongoOrderRepository,
    close_client,
    ensure_schema,
    get_database,
    make_client,
)
from bench.bench_repository import mongo_server
from bench.common import start_sandbox
from tests.contract.orders import completed, new_order

SECRET = "oesec_bench_0123456789abcdef"


async def seed(uri: str, db_name: str, orders: int) -> int:
    """Store ``orders`` completed orders (their events due for the relay); the event count."""
    client = make_client(uri, "pymongo")
    try:
        database = get_database(client, db_name)
        await ensure_schema(database)
        repository = MongoOrderRepository(database)
        events = 0
        for n in range(orders):
            order = completed(new_order(n, payment_id=f"pay-{n}"), seconds=n % 60)
            await repository.add(order)
            events += len(order.events)
        return events
    finally:
        await close_client(client)


async def drop(uri: str, db_name: str) -> None:
    client = make_client(uri, "pymongo")
    try:
        await client.drop_database(db_name)
    finally:
        await close_client(client)


def worker_env(uri: str, db_name: str, sandbox: str, args: argparse.Namespace) -> dict[str, str]:
    return os.environ | {
        "ORDERS_MODE": "dev",
        "MONGODB_URI": uri,
        "MONGODB_DB_NAME": db_name,
        "REDIS_URL": args.redis_url,
        "ORDER_EVENTS_WEBHOOK_URL": f"{sandbox}/merchant/order-events",
        "ORDER_EVENTS_WEBHOOK_SECRET": SECRET,
        "WORKER_CONCURRENCY": str(args.concurrency),
        # The worker's own job lines at INFO would be a cost of the benchmark, not the relay's.
        "LOG_LEVEL": "warning",
    }


def wait_for(sandbox: str, total: int, seconds: float) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        stats: dict[str, object] = httpx.get(f"{sandbox}/sandbox/merchant/stats").json()
        counters = stats["counters"]
        assert isinstance(counters, dict)
        if counters.get("accepted", 0) >= total:
            return stats
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {counters.get('accepted', 0)} of {total} events arrived")
        time.sleep(0.2)


def run(uri: str, args: argparse.Namespace) -> str:
    db_name = f"bench_relay_{uuid.uuid4().hex[:8]}"
    total = asyncio.run(seed(uri, db_name, args.orders))
    sandbox_process, sandbox = start_sandbox(0, {"ORDER_EVENTS_WEBHOOK_SECRET": SECRET})
    worker: subprocess.Popen[bytes] | None = None
    try:
        knobs = {"merchant_delay_ms": args.delay_ms}
        httpx.put(f"{sandbox}/sandbox/config", json=knobs).raise_for_status()
        load_before = os.getloadavg()
        script = Path(sys.executable).with_name("orders-service")
        worker = subprocess.Popen(  # noqa: S603 - our own script
            [str(script), "worker"], env=worker_env(uri, db_name, sandbox, args)
        )
        stats = wait_for(sandbox, total, seconds=600)
        load_after = os.getloadavg()
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        sandbox_process.terminate()
        sandbox_process.wait(30)
        asyncio.run(drop(uri, db_name))
    first, last = stats["first_at"], stats["last_at"]
    assert isinstance(first, float)
    assert isinstance(last, float)
    counters = stats["counters"]
    assert isinstance(counters, dict)
    rate = (total - 1) / (last - first)
    bound = args.concurrency / (args.delay_ms / 1000)
    return "\n".join(
        [
            f"relay: {args.orders} orders, {total} events, WORKER_CONCURRENCY {args.concurrency},"
            f" receiver delay {args.delay_ms:g} ms",
            f"delivered {total} in {last - first:.2f} s: {rate:.0f} events/s "
            f"({rate / bound:.0%} of the bound {bound:.0f}/s)",
            f"receiver: {counters}",
            "load average (1, 5, 15 min): before "
            + ", ".join(f"{x:.2f}" for x in load_before)
            + "; after "
            + ", ".join(f"{x:.2f}" for x in load_after),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    args = parser.parse_args(argv)
    with mongo_server() as (uri, _):
        print(run(uri, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
