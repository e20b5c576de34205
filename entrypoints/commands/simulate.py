"""``orders-service simulate``: many orders through the real use-cases on in-memory adapters and
fakes that fail at a chosen rate, with duplicate and lost webhooks, then a checked summary."""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from adapters.fakes import SimulatedCrash
from application.errors import TransientDownstreamError
from application.policy import OrderRetryPolicy
from domain import OrderRequest, OrderStatus, Passkey, Step
from testkit.pipeline import InProcessPipeline


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run N orders through the use-cases on in-memory adapters and faulty fakes",
        description=__doc__,
    )
    parser.add_argument("--orders", type=int, default=200, help="how many orders (default 200)")
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.2,
        help="share of downstream calls that fail: errors, timeouts, answers lost after the "
        "effect, crashes after the effect (default 0.2)",
    )
    parser.add_argument("--pay-rate", type=float, default=0.9, help="share of buyers who pay")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--verbose", action="store_true", help="log every failed call")
    parser.set_defaults(handler=_run)


@dataclass
class Summary:
    statuses: Counter[str]
    paid: int
    transfers: int
    transfer_calls: int
    duplicates_refused: int
    lookup_hits: int
    gateway_payments: int
    gateway_create_calls: int
    crashes: int
    faults: Counter[str]
    violations: list[str]
    seconds: float
    simulated_seconds: float


def _run(args: argparse.Namespace) -> int:
    if args.orders < 1 or not 0 <= args.fault_rate < 1 or not 0 <= args.pay_rate <= 1:
        print("need --orders >= 1, 0 <= --fault-rate < 1, 0 <= --pay-rate <= 1", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR)
    # Dev mode by nature (docs/adr/0008-orders-mode.md): say what stands in, once.
    print(
        "orders-service simulate: ORDERS_MODE=dev, never for production: adapters: "
        "repository=memory payment_gateway=fake wallet_service=fake transfer_service=fake "
        "queue=recording (a simulated clock)",
        file=sys.stderr,
    )
    summary = asyncio.run(
        simulate(
            orders=args.orders,
            fault_rate=args.fault_rate,
            pay_rate=args.pay_rate,
            seed=args.seed,
            progress=not args.quiet,
        )
    )
    _print(summary)
    return 1 if summary.violations else 0


def _request(i: int, rng: random.Random) -> OrderRequest:
    amount = Decimal(rng.randint(1, 10_000)) / 100
    wallet = None if rng.random() < 0.7 else f"0xexisting{i:06d}"
    return OrderRequest(
        reference_id=f"sim-{i:06d}",
        pool_id=f"pool-{i % 7}",
        token_symbol="USDC",
        amount_token=amount,
        min_amount_token_receive=amount * Decimal("0.99"),
        price_tolerance_percent=Decimal("1.5"),
        fiat_currency="EUR",
        price_fiat=amount + Decimal("0.50"),
        passkey=Passkey(credential_id=f"cred-{i}", public_key=f"pk-{i}"),
        smart_wallet_address=wallet,
    )


async def simulate(
    *, orders: int, fault_rate: float, pay_rate: float, seed: int, progress: bool
) -> Summary:
    rng = random.Random(seed)
    # Enough attempts that random transient faults never exhaust them; permanent faults are not
    # injected, so every paid order must complete.
    world = InProcessPipeline(
        seed=seed,
        fault_rate=fault_rate,
        retry_policy=OrderRetryPolicy(
            base=timedelta(seconds=5), cap=timedelta(minutes=2), max_attempts=40, jitter=rng
        ),
    )
    started = time.perf_counter()
    start_clock = world.clock.now()
    paid_ids: set[str] = set()
    step = max(orders // 10, 1)
    for i in range(orders):
        request = _request(i, rng)
        order = None
        while order is None:  # the frontend retries a failed create with the same body
            try:
                order = (await world.create_order.execute(request)).order
            except (TransientDownstreamError, SimulatedCrash):
                world.clock.advance(1)
        if rng.random() < pay_rate:
            world.gateway.complete(order.payment.id)
            paid_ids.add(order.id)
        else:
            world.gateway.fail(order.payment.id)
        # The gateway delivers 0 (lost) to 3 (duplicates) webhooks; the poller covers lost ones.
        for _ in range(rng.choice((0, 1, 1, 1, 2, 3))):
            await world.handle_notification.execute(order.payment.id)
        if i % 25 == 24:
            await world.worker_tick()
            world.clock.advance(5)
        if progress and (i + 1) % step == 0:
            print(f"  created {i + 1}/{orders}", file=sys.stderr)
    await world.settle(max_ticks=2000, step_seconds=10)
    summary = await _summarise(world, paid_ids, started)
    summary.simulated_seconds = (world.clock.now() - start_clock).total_seconds()
    return summary


async def _summarise(world: InProcessPipeline, paid_ids: set[str], started: float) -> Summary:
    statuses: Counter[str] = Counter()
    violations: list[str] = []
    transfers_by_order: Counter[str] = Counter(
        key.rsplit(":", 1)[0] for key in world.transfers.transfers
    )
    all_ids = {p.request.order_id for p in world.gateway.payments.values()}
    for order_id in sorted(all_ids | paid_ids):
        order = await world.repository.get(order_id)
        if order is None:
            violations.append(f"{order_id}: created at the gateway but never stored")
            continue
        statuses[order.status.value] += 1
        if transfers_by_order[order_id] > 1:
            violations.append(f"{order_id}: {transfers_by_order[order_id]} transfers")
        if order_id in paid_ids and order.status is not OrderStatus.COMPLETED:
            violations.append(f"{order_id}: paid but {order.status.value}")
        if order.status is OrderStatus.COMPLETED:
            sent = world.transfers.transfers.get(order.idempotency_key(Step.SEND_TOKEN))
            if sent is None:
                violations.append(f"{order_id}: completed without a transfer")
            elif (
                sent.request.destination != order.smart_wallet_address
                or sent.request.amount != order.amount_token
            ):
                violations.append(f"{order_id}: transfer does not match the order")
    faults: Counter[str] = Counter()
    for plan in (world.gateway_faults, world.wallet_faults, world.transfer_faults):
        for fault, count in plan.injected.items():
            faults[fault.value] += count
    return Summary(
        statuses=statuses,
        paid=len(paid_ids),
        transfers=len(world.transfers.transfers),
        transfer_calls=world.transfers.send_calls,
        duplicates_refused=world.transfers.duplicates_refused,
        lookup_hits=world.transfers.lookup_hits,
        gateway_payments=len(world.gateway.payments),
        gateway_create_calls=world.gateway.create_calls,
        crashes=world.crashes,
        faults=faults,
        violations=violations,
        seconds=time.perf_counter() - started,
        simulated_seconds=0.0,
    )


def _print(summary: Summary) -> None:
    total = sum(summary.statuses.values())
    print(f"orders: {total} ({summary.paid} paid)")
    for status in OrderStatus:
        print(f"  {status.value:<32} {summary.statuses.get(status.value, 0)}")
    print(
        f"transfers made: {summary.transfers} "
        f"(send calls {summary.transfer_calls}; duplicates avoided: "
        f"{summary.lookup_hits} found by key lookup before re-sending, "
        f"{summary.duplicates_refused} re-sends answered by the key)"
    )
    print(
        f"gateway payments: {summary.gateway_payments} "
        f"(create calls {summary.gateway_create_calls})"
    )
    injected = ", ".join(f"{k} {v}" for k, v in sorted(summary.faults.items())) or "none"
    print(f"faults injected: {injected}; simulated process crashes: {summary.crashes}")
    print(f"took {summary.seconds:.2f} s wall clock, {summary.simulated_seconds:.0f} s simulated")
    if summary.violations:
        print(f"VIOLATIONS ({len(summary.violations)}):")
        for line in summary.violations[:20]:
            print(f"  {line}")
    else:
        print("every paid order completed; no order has more than one transfer")
