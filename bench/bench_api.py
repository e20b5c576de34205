"""The HTTP API under load: create-order and get-order throughput of the real app (in-memory
repository, zero-latency fake gateway) against a bare Litestar + msgspec endpoint that decodes and
encodes the same bodies and does nothing else; then the webhook's answer latency (p50/p99).

Each server is its own process with one uvicorn worker; the load generator is this process, a
small keep-alive HTTP/1.1 client on asyncio (httpx would be the bottleneck on its own), sending a
bounded number of requests with a bounded number of connections, on loopback only. One run.

    python -m bench.bench_api [--requests 6000] [--concurrency 32] [--rounds 5] [--webhooks 2000]
                              [--floor]

All servers run side by side (only the one being driven is busy); each row's requests are sent
in ``--rounds`` batches alternating between the servers, so that a shared machine's drift hits
them alike. A row's throughput is all its requests over all its time; the per-round ratios show
the spread.

``--floor`` adds a third server: the real app, built the same way, whose ``CreateOrder`` and
``GetOrder`` answer one order made at startup without touching a port. Everything else is real
(middleware, rate limit, request validation, Litestar's dependency injection, the view and the
encoding), so ``floor / bare`` is the most the service can reach with the HTTP edge it has, and
``ours`` below ``floor`` is what the use-case and its adapters cost on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Litestar, get, post
from litestar.params import FromPath, JSONBody

from bench.common import free_port, percentile
from entrypoints.api.schemas import (
    CreateOrderBody,
    OrderView,
    PasskeyView,
    PaymentView,
    StatusChangeView,
)

SECRET = "bench-webhook-secret"


# --- the two servers (run as subprocesses: ``python -m bench.bench_api --serve ours|bare``) ---


def _bare_app() -> Litestar:
    """The floor: decode the order body, encode an order of the same shape. No use-case."""
    now = datetime.now(UTC)

    def view(body: CreateOrderBody) -> OrderView:
        return OrderView(
            id="9a64f7c3-47d9-5896-8f83-59ba8d71e0bd",
            reference_id=body.reference_id,
            status="pending",
            pool_id=body.pool_id,
            token_symbol=body.token_symbol,
            amount_token=body.amount_token,
            min_amount_token_receive=body.min_amount_token_receive,
            price_tolerance_percent=body.price_tolerance_percent,
            fiat_currency=body.fiat_currency,
            price_fiat=body.price_fiat,
            passkey=PasskeyView(body.passkey.credential_id, body.passkey.public_key),
            smart_wallet_address=body.smart_wallet_address,
            payment=PaymentView(
                id="pay_000001",
                token="tok_000001",
                checkout_url="http://127.0.0.1:8010/checkout/pay_000001",
                status="pending",
                amount=body.price_fiat,
                currency=body.fiat_currency,
                created_at=now,
                expires_at=now,
            ),
            transfer=None,
            parked=False,
            last_error=None,
            created_at=now,
            updated_at=now,
            history=[StatusChangeView(status="pending", at=now, reason="order created")],
        )

    stored = view(msgspec.convert(_order(0), CreateOrderBody))

    @post("/api/orders", status_code=201)
    async def create(data: JSONBody[CreateOrderBody]) -> OrderView:
        return view(data)

    @get("/api/orders/{order_id:str}")
    async def read(order_id: FromPath[str]) -> OrderView:
        return stored

    return Litestar([create, read])


def _answer_one_order(container: Any) -> None:
    """The floor's use-cases: ``CreateOrder`` and ``GetOrder`` that answer one order placed at
    startup, through the container's own override (as the tests override providers)."""
    from dependency_injector import providers  # noqa: PLC0415

    from application.create_order import CreateOrder, CreateOrderResult  # noqa: PLC0415
    from application.get_order import GetOrder  # noqa: PLC0415
    from domain import Order, OrderRequest, Payment  # noqa: PLC0415

    now = datetime.now(UTC)
    request = msgspec.convert(_order(0), CreateOrderBody).to_order_request()
    payment = Payment(
        id="pay_000001",
        token="tok_000001",
        checkout_url="http://127.0.0.1:8010/checkout/pay_000001",
        status="pending",
        amount=request.price_fiat,
        currency=request.fiat_currency,
        created_at=now,
        expires_at=now,
    )
    result = CreateOrderResult(Order.place(request, payment, at=now), replayed=False)

    class AnsweringCreate(CreateOrder):
        def __init__(self) -> None:  # no ports: it touches none
            pass

        async def execute(self, request: OrderRequest) -> CreateOrderResult:
            return result

    class AnsweringGet(GetOrder):
        def __init__(self) -> None:
            pass

        async def by_id(self, order_id: str) -> Order:
            return result.order

    container.create_order.override(providers.Object(AnsweringCreate()))
    container.get_order.override(providers.Object(AnsweringGet()))


def _serve(kind: str, port: int) -> None:
    import logging  # noqa: PLC0415

    import uvicorn  # noqa: PLC0415

    if kind in {"ours", "floor"}:
        from entrypoints.api.app import create_app  # noqa: PLC0415
        from entrypoints.settings import Settings  # noqa: PLC0415

        # The per-IP rate limit stays in the stack (its cost is part of ours) but must not refuse
        # the load generator, which is one address.
        settings = Settings(
            mode="dev", payment_webhook_secrets=(SECRET,), rate_limit_per_minute=10**9
        )
        # As `orders-service api` serves it.
        app: object = create_app(
            settings,
            configure=_answer_one_order if kind == "floor" else None,
            freeze_startup_objects=True,
        )
        # Request lines and background AdvanceOrder runs log at info: keep the run about the
        # HTTP path, as a production log level would.
        for name in ("entrypoints", "orders_service", "application", "adapters"):
            logging.getLogger(name).setLevel(logging.WARNING)
    else:
        app = _bare_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)  # type: ignore[arg-type]


# --- the load generator ---------------------------------------------------------------------


def _order(i: int) -> dict[str, object]:
    return {
        "reference_id": f"bench-{i:07d}",
        "pool_id": "pool-1",
        "token_symbol": "USDC",
        "amount_token": "12.500000",
        "min_amount_token_receive": "12.4",
        "price_tolerance_percent": "1.5",
        "fiat_currency": "EUR",
        "price_fiat": "13.10",
        "passkey": {"credential_id": f"cred-{i}", "public_key": f"pk-{i}"},
    }


def _raw(method: str, path: str, body: bytes = b"", headers: Sequence[str] = ()) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", *headers]
    if body or method == "POST":
        lines += ["content-type: application/json", f"content-length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Run:
    name: str
    requests: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes
) -> tuple[int, bytes]:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def drive(name: str, port: int, requests: list[bytes], concurrency: int) -> Run:
    """Send ``requests`` over ``concurrency`` keep-alive connections; time each answer."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for raw in queue:
                started = time.perf_counter()
                status, _ = await _exchange(reader, writer, raw)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Run(name, len(requests), time.perf_counter() - started, latencies, statuses)


def _start(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MONGODB_URI"}}
    process = subprocess.Popen(  # noqa: S603 - this very module
        [sys.executable, "-m", "bench.bench_api", "--serve", kind, "--port", str(port)], env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, port
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the {kind} server did not start")


async def _created_ids(port: int, count: int, offset: int) -> list[tuple[str, str]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    found = []
    for i in range(offset, offset + count):
        status, body = await _exchange(
            reader, writer, _raw("POST", "/api/orders", json.dumps(_order(i)).encode())
        )
        assert status == 201, body
        order = json.loads(body)
        found.append((order["id"], order["payment"]["id"]))
    writer.close()
    return found


def _merge(name: str, parts: list[Run]) -> Run:
    """One row out of a server's rounds: all its requests over all its time."""
    statuses: dict[int, int] = {}
    for part in parts:
        for status, count in part.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return Run(
        name,
        sum(p.requests for p in parts),
        sum(p.seconds for p in parts),
        [latency for p in parts for latency in p.latencies],
        statuses,
    )


@dataclass
class Comparison:
    """A server's throughput over the bare endpoint's, per round, for the spread."""

    op: str
    kind: str
    ratios: list[float]


async def _paired(
    op: str, servers: dict[str, int], batches: dict[str, list[bytes]], args: argparse.Namespace
) -> tuple[list[Run], list[Comparison]]:
    """``args.rounds`` rounds, each one batch to every server in turn, so that they all meet the
    same machine (a shared VM drifts by tens of percent within a minute)."""
    size = len(batches["bare"]) // args.rounds
    parts: dict[str, list[Run]] = {kind: [] for kind in servers}
    ratios: dict[str, list[float]] = {kind: [] for kind in servers if kind != "bare"}
    for r in range(args.rounds):
        for kind, port in servers.items():
            chunk = batches[kind][r * size : (r + 1) * size]
            parts[kind].append(await drive(kind, port, chunk, args.concurrency))
        for kind, spread in ratios.items():
            spread.append(parts[kind][-1].rate / parts["bare"][-1].rate)
    runs = [_merge(f"{op} ({kind})", parts[kind]) for kind in servers]
    return runs, [Comparison(op, kind, spread) for kind, spread in ratios.items()]


async def bench(args: argparse.Namespace) -> tuple[list[Run], list[Comparison]]:
    from entrypoints.api.signature import signature_header  # noqa: PLC0415

    kinds = ("bare", "ours", "floor") if args.floor else ("bare", "ours")
    started = {kind: _start(kind) for kind in kinds}
    servers = {kind: port for kind, (_, port) in started.items()}
    try:
        for port in servers.values():
            # Warm-up: imports, first allocations, the JIT-less interpreter's caches.
            warm = [
                _raw("POST", "/api/orders", json.dumps(_order(10_000_000 + i)).encode())
                for i in range(300)
            ]
            await drive("warm-up", port, warm, args.concurrency)
        creates = [
            _raw("POST", "/api/orders", json.dumps(_order(i)).encode())
            for i in range(args.requests)
        ]
        create_runs, create_cmp = await _paired(
            "create order", servers, dict.fromkeys(kinds, creates), args
        )
        ids = [order_id for order_id, _ in await _created_ids(servers["ours"], 200, 20_000_000)]
        ours_reads = [_raw("GET", f"/api/orders/{ids[i % len(ids)]}") for i in range(args.requests)]
        reads = {
            "bare": [_raw("GET", "/api/orders/x") for _ in range(args.requests)],
            "ours": ours_reads,
            "floor": ours_reads,
        }
        get_runs, get_cmp = await _paired("get order", servers, reads, args)
        paid = await _created_ids(servers["ours"], args.webhooks, 30_000_000)
        events = []
        for n, (_, payment_id) in enumerate(paid):
            body = json.dumps(
                {
                    "id": f"evt-{n:07d}",
                    "type": "payment.updated",
                    "created_at": "2026-01-01T00:00:00Z",
                    "data": {"payment_id": payment_id, "status": "completed"},
                }
            ).encode()
            header = signature_header([SECRET], int(time.time()), body)
            events.append(_raw("POST", "/api/webhooks/payments", body, [f"x-signature: {header}"]))
        webhook = await drive(
            "payment webhook (ours)", servers["ours"], events, args.webhook_concurrency
        )
    finally:
        for process, _ in started.values():
            process.terminate()
            process.wait(timeout=10)
    return [*create_runs, *get_runs, webhook], [*create_cmp, *get_cmp]


def report(runs: list[Run], comparisons: list[Comparison], args: argparse.Namespace) -> str:
    by_name = {r.name: r for r in runs}
    lines = [
        f"One run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end; "
        f"{args.requests} requests per row over {args.concurrency} keep-alive connections, in "
        f"{args.rounds} rounds alternating the servers (webhooks: {args.webhooks} over "
        f"{args.webhook_concurrency}); one uvicorn worker per server (h11), the load generator "
        "in another process.",
        "",
        "| scenario | requests/s | p50 ms | p99 ms | answers |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for run in runs:
        answers = ", ".join(f"{s}: {n}" for s, n in sorted(run.statuses.items()))
        lines.append(
            f"| {run.name} | {run.rate:,.0f} | {run.percentile(50):.1f} | "
            f"{run.percentile(99):.1f} | {answers} |"
        )
    lines.append("")
    for comparison in comparisons:
        op, kind = comparison.op, comparison.kind
        served, bare = by_name[f"{op} ({kind})"], by_name[f"{op} (bare)"]
        spread = ", ".join(f"{r:.2f}" for r in comparison.ratios)
        target = " (target >= 0.75x)" if kind == "ours" else " (use-cases answering one order)"
        lines.append(
            f"- {op}: {kind} / bare = **{served.rate / bare.rate:.2f}x**{target}; "
            f"per round: {spread}"
        )
    webhook = by_name["payment webhook (ours)"]
    lines.append(
        f"- payment webhook answer p99: **{webhook.percentile(99):.1f} ms** (target < 50 ms)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_api", description=__doc__)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--webhook-concurrency", type=int, default=8)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also serve the real app with use-cases that answer one order (the edge's cost)",
    )
    parser.add_argument("--serve", choices=("ours", "bare", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.port)
        return 0
    if args.requests % args.rounds:
        parser.error("--requests must be a multiple of --rounds")
    runs, comparisons = asyncio.run(bench(args))
    print(report(runs, comparisons, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
