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
        [--concurrency 20] [--delay-ms 50] [--in-process]

``--in-process`` runs the same ``RelayEvents`` in this process on the in-memory stores instead
(no Mongo, no worker, no cron tick): what the relay and the receiver cost without the store.
``--baseline`` sends the same signed bodies with plain httpx, ``--concurrency`` at a time, no
relay at all: the most this machine's HTTP client and receiver give now.
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

from adapters.clock import SystemClock
from adapters.http import EventWebhookSubscriber
from adapters.http.webhook_signature import signature_header
from adapters.memory import InMemoryDeliveryLog, InMemoryOrderRepository
from adapters.mongo import (
    MongoOrderRepository,
    close_client,
    ensure_schema,
    get_database,
    make_client,
)
from application.relay_events import RelayEvents, RelayPolicy
from bench.common import start_sandbox
from bench.mongo import mongo_server
from domain import Order, OrderEvent, order_after
from entrypoints.api.schemas import event_webhook_body
from tests.contract.orders import completed, new_order

SECRET = "oesec_bench_0123456789abcdef"
WHERE = {False: "relay: a worker process, Mongo", True: "relay: in process, in-memory stores"}


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


async def relay_in_process(sandbox: str, args: argparse.Namespace) -> int:
    """The relay on the in-memory stores, pass after pass until nothing is due; the events."""
    repository = InMemoryOrderRepository()
    total = 0
    for n in range(args.orders):
        order = completed(new_order(n, payment_id=f"pay-{n}"), seconds=n % 60)
        await repository.add(order)
        total += len(order.events)
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        subscriber = EventWebhookSubscriber(
            client,
            f"{sandbox}/merchant/order-events",
            body=event_webhook_body,
            signature=lambda stamp, body: signature_header((SECRET,), stamp, body),
            clock=SystemClock(),
        )
        relay = RelayEvents(
            repository,
            repository,
            InMemoryDeliveryLog(),
            [subscriber],
            SystemClock(),
            policy=RelayPolicy(batch_size=args.orders),
            concurrency=args.concurrency,
        )
        while (await relay.execute()).orders:
            pass
    return total


async def plain_posts(sandbox: str, args: argparse.Namespace) -> int:
    """The events' bodies, signed, posted with httpx ``concurrency`` at a time; the events."""
    orders = [
        completed(new_order(n, payment_id=f"pay-{n}"), seconds=n % 60) for n in range(args.orders)
    ]
    work = [(event, order) for order in orders for event in order.events]
    limit = asyncio.Semaphore(args.concurrency)
    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:

        async def post(event: OrderEvent, order: Order) -> None:
            async with limit:
                body = event_webhook_body(event, order_after(order, event.sequence))
                headers = {
                    "content-type": "application/json",
                    "x-event-id": event.id,
                    "x-signature": signature_header((SECRET,), int(time.time()), body),
                }
                answer = await client.post(
                    f"{sandbox}/merchant/order-events", content=body, headers=headers
                )
                answer.raise_for_status()

        await asyncio.gather(*(post(e, o) for e, o in work))
    return len(work)


def run(uri: str, args: argparse.Namespace) -> str:
    db_name = f"bench_relay_{uuid.uuid4().hex[:8]}"
    local = args.in_process or args.baseline
    total = 0 if local else asyncio.run(seed(uri, db_name, args.orders))
    sandbox_process, sandbox = start_sandbox(0, {"ORDER_EVENTS_WEBHOOK_SECRET": SECRET})
    worker: subprocess.Popen[bytes] | None = None
    try:
        knobs = {"merchant_delay_ms": args.delay_ms}
        httpx.put(f"{sandbox}/sandbox/config", json=knobs).raise_for_status()
        load_before = os.getloadavg()
        if args.baseline:
            total = asyncio.run(plain_posts(sandbox, args))
        elif args.in_process:
            total = asyncio.run(relay_in_process(sandbox, args))
        else:
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
        if not local:
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
            f"{'baseline (plain httpx, no relay)' if args.baseline else WHERE[args.in_process]}:"
            f" {args.orders} orders, {total} events, WORKER_CONCURRENCY {args.concurrency},"
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
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args(argv)
    if args.in_process or args.baseline:
        print(run("", args))
        return 0
    with mongo_server() as (uri, _):
        print(run(uri, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
