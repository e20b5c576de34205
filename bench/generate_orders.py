"""Fill a Mongo-wire server with synthetic orders for the admin benchmark.

Documents are the codec's own (``order_to_document`` of one real order per status), copied with
fresh ids, keys, prices and times, and inserted in unordered batches, so a million takes minutes
on a real mongod, not the hours that building a million ``Order`` objects would. The spread is
fixed by ``--seed``: 80 % completed, 8 % pending, 5 % failed_pay, the rest across the other
statuses (a tenth of the failed ones parked), 50 pools, 8 tokens, 4 currencies, prices 1..5000,
creation times over the year before 2026-06-01.

    python -m bench.generate_orders --uri mongodb://127.0.0.1:27017/ --count 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128

from adapters.mongo import close_client, ensure_schema, get_database, make_client, order_to_document
from domain import Order, OrderRequest, OrderStatus, Passkey, Payment, Step, TransferResult

END = datetime(2026, 6, 1, tzinfo=UTC)
SPAN_SECONDS = 365 * 24 * 3600
POOLS = [f"pool-{i:02d}" for i in range(50)]
TOKENS = ["USDC", "USDT", "SOL", "ETH", "BTC", "JUP", "BONK", "PYTH"]
CURRENCIES = ["EUR", "USD", "GBP", "JPY"]
STATUS_WEIGHTS = [
    (OrderStatus.COMPLETED, 80),
    (OrderStatus.PENDING, 8),
    (OrderStatus.FAILED_PAY, 5),
    (OrderStatus.COMPLETED_PAY, 1),
    (OrderStatus.CREATING_WALLET, 1),
    (OrderStatus.CREATE_WALLET_FAIL, 2),
    (OrderStatus.SENDING_TOKEN_TO_SMARTWALLET, 1),
    (OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL, 2),
]


def _template(status: OrderStatus) -> Order:
    at = END - timedelta(days=1)
    request = OrderRequest(
        reference_id="tmpl",
        pool_id="pool-00",
        token_symbol="USDC",
        amount_token=Decimal("10"),
        min_amount_token_receive=Decimal("9.9"),
        price_tolerance_percent=Decimal("1"),
        fiat_currency="EUR",
        price_fiat=Decimal("10.00"),
        passkey=Passkey("cred-tmpl", "pk-tmpl"),
    )
    payment = Payment(
        "pay-tmpl", "ptok", "https://pay.example/x", "pending", Decimal("10.00"), "EUR", at, at
    )
    order = Order.place(request, payment, at=at)
    later = [at + timedelta(seconds=s) for s in range(1, 8)]
    if status is OrderStatus.PENDING:
        return order
    if status is OrderStatus.FAILED_PAY:
        order.mark_payment_failed(later[0], "failed")
        return order
    order.mark_paid(later[0])
    if status is OrderStatus.COMPLETED_PAY:
        return order
    order.start_step(Step.CREATE_WALLET, later[1])
    if status is OrderStatus.CREATING_WALLET:
        return order
    if status is OrderStatus.CREATE_WALLET_FAIL:
        order.step_failed(later[2], "wallet: 503", retry_at=later[5])
        return order
    order.wallet_created("0xwallet", later[2])
    if status is OrderStatus.SENDING_TOKEN_TO_SMARTWALLET:
        return order
    if status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL:
        order.step_failed(later[3], "transfer: 503", retry_at=later[5])
        return order
    order.tokens_sent(TransferResult("tr", "confirmed", "sig", Decimal("10")), later[3])
    return order


def document_factory(seed: int) -> Callable[[int], dict[str, Any]]:
    """``make(i)``: the i-th synthetic order document."""
    templates = {status: order_to_document(_template(status)) for status, _ in STATUS_WEIGHTS}
    statuses = [s for s, w in STATUS_WEIGHTS for _ in range(w)]
    rng = random.Random(seed)

    def make(i: int) -> dict[str, Any]:
        status = rng.choice(statuses)
        base = templates[status]
        created = END - timedelta(
            seconds=rng.randrange(SPAN_SECONDS), milliseconds=rng.randrange(1000)
        )
        shift = created - base["created_at"]
        price = Decimal128(f"{rng.randrange(100, 500_000) / 100:.2f}")
        currency = rng.choice(CURRENCIES)
        pool = rng.choice(POOLS)
        reference = f"bench-{seed}-{i:08d}"
        doc = dict(base)
        doc["_id"] = f"{seed:04d}-{i:012d}"
        doc["reference_id"] = reference
        doc["id_pool"] = pool
        doc["created_at"] = created
        doc["updated_at"] = base["updated_at"] + shift
        doc["request"] = {
            **base["request"],
            "reference_id": reference,
            "pool_id": pool,
            "token_symbol": rng.choice(TOKENS),
            "fiat_currency": currency,
            "price_fiat": price,
        }
        doc["payment"] = {
            **base["payment"],
            "id": f"pay-{seed}-{i:08d}",
            "amount": price,
            "currency": currency,
            "created_at": created,
            "expires_at": created + timedelta(minutes=15),
        }
        doc["history"] = [{**line, "at": line["at"] + shift} for line in base["history"]]
        if base.get("next_attempt_at") is not None:
            doc["next_attempt_at"] = base["next_attempt_at"] + shift
        if (
            status in (OrderStatus.CREATE_WALLET_FAIL, OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL)
            and rng.random() < 0.1
        ):
            doc["parked"] = True
            doc["parked_reason"] = "out of attempts"
            doc["next_attempt_at"] = None
        return doc

    return make


async def insert_orders(
    collection: Any, start: int, stop: int, *, seed: int = 7, batch: int = 5000
) -> float:
    """Insert orders ``start .. stop-1``; returns documents per second."""
    make = document_factory(seed)
    for i in range(start):  # the generator is sequential: replay it up to ``start``
        make(i)
    began = time.perf_counter()
    for low in range(start, stop, batch):
        docs = [make(i) for i in range(low, min(low + batch, stop))]
        await collection.insert_many(docs, ordered=False)
    elapsed = time.perf_counter() - began
    return (stop - start) / elapsed if elapsed > 0 else float("inf")


async def _main(args: argparse.Namespace) -> int:
    client = make_client(args.uri, "pymongo", timeout_ms=None)
    try:
        database = get_database(client, args.db)
        await ensure_schema(database)
        rate = await insert_orders(
            database["orders"], args.start, args.start + args.count, seed=args.seed
        )
        print(f"inserted {args.count} orders into {args.db}.orders at {rate:,.0f}/s")
    finally:
        await close_client(client)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", required=True)
    parser.add_argument("--db", default="admin_bench")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--start", type=int, default=0, help="index of the first order (resume)")
    parser.add_argument("--seed", type=int, default=7)
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
