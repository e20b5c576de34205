"""One worker process, paid to completed: orders/s and the latency of each order, with every
downstream call answered by the sandbox after a fixed latency (50 ms by default).

The worker is the production one (``GracefulWorker`` from ``worker_settings``, the container's
httpx adapters, SAQ on real Redis at ``REDIS_URL``); only the repository is swapped for the
in-memory one, watched so each completion is timed. The sandbox runs as its own process. The
sweeper crons are left out, so an order advances only when its job is enqueued (as the webhook
handler does once the buyer has paid). Payments are created and settled before timing starts.

The worker logs as shipped: ``configure_logging`` with the default level (INFO) and JSON lines, as a
deployment sets ``LOG_FORMAT=json``, written to a file (the report counts them).

Two runs: a burst (every order enqueued at once: throughput) and a paced run at half the bound
(latency of an order that does not wait behind others). The bound is what the worker could do
if nothing but the downstream latency counted: concurrency / (calls per order x latency).

    REDIS_URL=redis://127.0.0.1:6379 python -m bench.bench_worker [--orders 600]
        [--concurrency 20] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

import httpx
from dependency_injector import providers
from saq.queue.redis import RedisQueue

from adapters.memory import InMemoryOrderRepository
from adapters.saq import SaqJobScheduler, close_queue, make_queue
from application.create_order import CreateOrder
from bench.common import SANDBOX_API_KEY, percentile, start_sandbox
from domain import Order, OrderRequest, OrderStatus, Passkey
from entrypoints.container import Container, resolve
from entrypoints.log_config import configure_logging
from entrypoints.settings import Settings
from entrypoints.worker import CronIntervals, GracefulWorker, worker_settings

API_KEY = SANDBOX_API_KEY
NO_SWEEPS = CronIntervals(pending_payments=None, due_retries=None, stuck_orders=None, refunds=None)


class WatchedRepository(InMemoryOrderRepository):
    """The in-memory repository, noting when each order is saved ``completed``."""

    def __init__(self) -> None:
        super().__init__()
        self.completed_at: dict[str, float] = {}
        self.wanted: set[str] = set()
        self.all_done = asyncio.Event()

    def expect(self, order_ids: set[str]) -> None:
        self.wanted = set(order_ids)
        self.all_done.clear()

    async def save(self, order: Order, *, expected_version: int) -> None:
        await super().save(order, expected_version=expected_version)
        if order.status is OrderStatus.COMPLETED:
            self.completed_at.setdefault(order.id, time.perf_counter())
            if self.wanted and self.wanted <= self.completed_at.keys():
                self.all_done.set()


@dataclass
class Run:
    name: str
    orders: int
    seconds: float
    latencies: list[float]
    #: CPU time this process spent per order (the worker and the small driver).
    cpu_ms_per_order: float = 0.0

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)


def request(i: int, tag: str) -> OrderRequest:
    reference = f"bench-{tag}-{i:06d}"
    return OrderRequest(
        reference_id=reference,
        pool_id="pool-usdc",
        token_symbol="USDC",
        amount_token=Decimal("25.5"),
        min_amount_token_receive=Decimal("25"),
        price_tolerance_percent=Decimal("1.5"),
        fiat_currency="EUR",
        price_fiat=Decimal("27.30"),
        passkey=Passkey(f"cred-{reference}", f"pk-{reference}"),
    )


async def paid_orders(
    create: CreateOrder, sandbox: httpx.AsyncClient, count: int, tag: str, concurrency: int
) -> list[Order]:
    """Orders created through the gateway and paid in the sandbox: ready for the webhook.

    No more calls at once than the worker makes: the gateway client's pool is the worker's, and
    a pool grown larger here would cost every later request a scan of idle connections."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Order:
        async with gate:
            order = (await create.execute(request(i, tag))).order
            answer = await sandbox.post(f"/sandbox/payments/{order.payment.id}/complete")
            answer.raise_for_status()
            return order

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def burst(
    name: str, orders: list[Order], scheduler: SaqJobScheduler, repo: WatchedRepository
) -> Run:
    repo.expect({o.id for o in orders})
    cpu = time.process_time()
    started = time.perf_counter()
    enqueued: dict[str, float] = {}
    for order in orders:
        enqueued[order.id] = time.perf_counter()
        await scheduler.schedule_advance(order.id)
    await repo.all_done.wait()
    last = max(repo.completed_at[o.id] for o in orders)
    return Run(
        name,
        len(orders),
        last - started,
        [repo.completed_at[o.id] - enqueued[o.id] for o in orders],
        (time.process_time() - cpu) * 1000 / len(orders),
    )


async def paced(
    orders: list[Order], per_second: float, scheduler: SaqJobScheduler, repo: WatchedRepository
) -> Run:
    repo.expect({o.id for o in orders})
    cpu = time.process_time()
    started = time.perf_counter()
    enqueued: dict[str, float] = {}
    for i, order in enumerate(orders):
        delay = started + i / per_second - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        enqueued[order.id] = time.perf_counter()
        await scheduler.schedule_advance(order.id)
    await repo.all_done.wait()
    last = max(repo.completed_at[o.id] for o in orders)
    return Run(
        f"paced at {per_second:.0f}/s",
        len(orders),
        last - started,
        [repo.completed_at[o.id] - enqueued[o.id] for o in orders],
        (time.process_time() - cpu) * 1000 / len(orders),
    )


async def run(
    args: argparse.Namespace, sandbox_url: str, redis_url: str, logs: IO[str]
) -> tuple[list[Run], dict[str, int], int]:
    repo = WatchedRepository()
    queue_name = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        mode="dev",  # the repository is the bench's own, in memory
        redis_url=redis_url,
        payment_gateway_url=sandbox_url,
        payment_gateway_api_key=API_KEY,
        wallet_api_url=sandbox_url,
        wallet_api_key=API_KEY,
        transfer_api_url=sandbox_url,
        transfer_api_key=API_KEY,
        worker_concurrency=args.concurrency,
        log_format="json",  # what a deployment sets; the level is the default (INFO)
    )
    configure_logging(settings, stream=logs)

    def configure(container: Container) -> None:
        container.repository.override(providers.Object(repo))

    worker = GracefulWorker(
        **worker_settings(settings, queue_name=queue_name, configure=configure, crons=NO_SWEEPS),
        grace_seconds=10,
    )
    queue = worker.queue
    assert isinstance(queue, RedisQueue)
    await queue.connect()
    task = asyncio.create_task(worker.start())
    sandbox = httpx.AsyncClient(base_url=sandbox_url, timeout=10)
    try:
        while "services" not in worker.context:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        container = worker.context["services"].container
        create = await resolve(container.create_order, CreateOrder)
        scheduler = await resolve(container.scheduler, SaqJobScheduler)
        made = args.concurrency
        warmup = await paid_orders(create, sandbox, args.concurrency * 2, "warmup", made)
        bursty = await paid_orders(create, sandbox, args.orders, "burst", made)
        steady = await paid_orders(create, sandbox, args.orders // 2, "paced", made)
        await burst("warm-up", warmup, scheduler, repo)
        before = (await sandbox.get("/sandbox/stats")).json()
        runs = [await burst("burst", bursty, scheduler, repo)]
        after = (await sandbox.get("/sandbox/stats")).json()
        calls = {k: after["calls"].get(k, 0) - before["calls"].get(k, 0) for k in after["calls"]}
        bound = args.concurrency / (sum(calls.values()) / args.orders * args.latency_ms / 1000)
        runs.append(await paced(steady, bound / 2, scheduler, repo))
        transfers = (await sandbox.get("/sandbox/stats")).json()["transfers"]
    finally:
        await sandbox.aclose()
        worker.event.set()
        await task
        await close_queue(queue)
        await _forget(redis_url, queue_name)
    return runs, calls, int(transfers)


async def _forget(redis_url: str, queue_name: str) -> None:
    queue = make_queue(redis_url, queue_name)
    for pattern in (f"saq:{queue_name}:*", f"saq:job:{queue_name}:*"):
        keys = [key async for key in queue.redis.scan_iter(match=pattern)]
        if keys:
            await queue.redis.delete(*keys)
    await close_queue(queue)


def report(runs: list[Run], calls: dict[str, int], args: argparse.Namespace) -> str:
    per_order = sum(calls.values()) / args.orders
    downstream = per_order * args.latency_ms / 1000
    bound = args.concurrency / downstream
    lines = [
        f"one worker process, concurrency {args.concurrency}, sandbox latency "
        f"{args.latency_ms:.0f} ms per call; {per_order:.2f} downstream calls per order "
        f"({', '.join(f'{k} {v}' for k, v in sorted(calls.items()) if v)}) = "
        f"{downstream * 1000:.0f} ms of downstream latency per order; "
        f"bound = {args.concurrency} / {downstream:.3f} s = {bound:.1f} orders/s",
        "",
        "| run | orders | orders/s | % of bound | p50 paid→completed | p99 paid→completed "
        "| worker CPU per order |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        share = f"{100 * r.rate / bound:.0f} %" if r.name == "burst" else "(paced)"
        lines.append(
            f"| {r.name} | {r.orders} | {r.rate:.1f} | {share} "
            f"| {r.percentile(50) * 1000:.0f} ms | {r.percentile(99) * 1000:.0f} ms "
            f"| {r.cpu_ms_per_order:.1f} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=600, help="orders in the burst run")
    parser.add_argument("--concurrency", type=int, default=20, help="WORKER_CONCURRENCY")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args(argv)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
    process, url = start_sandbox(args.latency_ms)
    with tempfile.TemporaryFile("w+", prefix="bench-worker-", suffix=".log") as logs:
        try:
            runs, calls, transfers = asyncio.run(run(args, url, redis_url, logs))
        finally:
            process.terminate()
            process.wait(timeout=10)
        logs.seek(0)
        lines = sum(1 for _ in logs)
    print(report(runs, calls, args))
    print(f"log lines the worker wrote (INFO, JSON, to a file): {lines:,}")
    expected = args.concurrency * 2 + args.orders + args.orders // 2
    if transfers != expected:
        print(f"FAILED: {transfers} transfers for {expected} orders", file=sys.stderr)
        return 1
    bound = args.concurrency / (sum(calls.values()) / args.orders * args.latency_ms / 1000)
    if runs[0].rate < 0.8 * bound:
        print(f"below target: {runs[0].rate:.1f} < 80 % of {bound:.1f} orders/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
