"""The HTTP API under load, as shipped: ``orders-service api`` with its defaults (INFO, a JSON line
per request, the rate limiter on with a limit out of reach, every middleware; in-memory
repository and zero-latency fake gateway), against two twins that validate the same create body
and encode an order of the same shape with no I/O: bare Litestar + msgspec, and FastAPI +
pydantic. Then the webhook's answer latency, and create's latency at half of its measured
maximum (open loop: each request is timed from when it was due).

All servers run on the same stack, uvicorn on uvloop + httptools (``server_options`` of the api
command), one process each; the load generator is this process, a small keep-alive HTTP/1.1
client on uvloop, on loopback only. One run.

    python -m bench.bench_api [--requests 6000] [--concurrency 32] [--rounds 5] [--webhooks 2000]
                              [--floor] [--workers-compare] [--log-cost] [--guest]
                              [--raw-experiment]

All servers are started before the first request (only the one being driven is busy); each
row's requests are sent in ``--rounds`` batches alternating between the servers, so that a shared
machine's drift hits them alike. A row's throughput is all its requests over all its time; the
per-round ratios show the spread.

``--floor`` adds the real app, built the same way, whose ``CreateOrder`` and ``GetOrder`` answer
one order made at startup without touching a port: ``floor / bare`` is what the HTTP edge
allows. ``--workers-compare`` adds ``serve(..., workers=2)`` of the api command (the same app
factory under uvicorn's supervisor) and compares its creates with the one-process server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, get, post
from litestar.params import FromPath, JSONBody

from adapters.http.buyer_tokens import mint_token
from application.ports import PaymentState
from bench.common import percentile
from devstack import free_port
from domain import OrderStatus
from entrypoints.api.schemas import (
    CreateOrderBody,
    HistoryLineView,
    OrderView,
    PasskeyView,
    PaymentView,
    ms_text,
)

SECRET = "bench-webhook-secret"
#: The buyers' HS256 secret of the measured API, and the one buyer the load is sent as.
JWT_SECRET = "bench-buyer-token-secret-0123456789abcdef"
JWT_ISSUER = "bench"
JWT_AUDIENCE = "orders-api"
BUYER_TOKEN = mint_token(
    JWT_SECRET,
    subject="bench-buyer",
    issuer=JWT_ISSUER,
    audience=JWT_AUDIENCE,
    lifetime_seconds=86400,
)


# --- the two servers (run as subprocesses: ``python -m bench.bench_api --serve ours|bare``) ---


def _bare_app() -> Litestar:
    """The floor: decode the order body, encode an order of the same shape. No use-case."""
    now = ms_text(datetime.now(UTC))

    def view(body: CreateOrderBody) -> OrderView:
        return OrderView(
            id="9a64f7c3-47d9-5896-8f83-59ba8d71e0bd",
            reference_id=body.reference_id,
            status=OrderStatus.PENDING,
            pool_id=body.pool_id,
            token_symbol=body.token_symbol,
            amount_token=body.amount_token,
            min_amount_token_receive=body.min_amount_token_receive,
            price_tolerance_percent=body.price_tolerance_percent,
            fiat_currency=body.fiat_currency,
            price_fiat=body.price_fiat,
            passkey=PasskeyView(body.passkey.credential_id),
            smart_wallet_address=body.smart_wallet_address,
            payment=PaymentView(
                id="pay_000001",
                checkout_url="http://127.0.0.1:8010/checkout/pay_000001",
                status=PaymentState.PENDING,
                amount=body.price_fiat,
                currency=body.fiat_currency,
                created_at=now,
                expires_at=now,
            ),
            transfer=None,
            created_at=now,
            updated_at=now,
            history=[HistoryLineView(status=OrderStatus.PENDING, at=now)],
            refund=None,
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

    from application.buyers import Caller  # noqa: PLC0415
    from application.create_order import CreateOrder, CreateOrderResult  # noqa: PLC0415
    from application.get_order import GetOrder  # noqa: PLC0415
    from application.read_own_order import ReadOwnOrder  # noqa: PLC0415
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

        async def execute(
            self, request: OrderRequest, caller: Caller | None = None
        ) -> CreateOrderResult:
            return result

    class AnsweringGet(GetOrder):
        def __init__(self) -> None:
            pass

        async def by_id(self, order_id: str) -> Order:
            return result.order

    class AnsweringRead(ReadOwnOrder):
        def __init__(self) -> None:
            pass

        async def by_id(self, order_id: str, caller: Caller) -> Order:
            return result.order

    container.create_order.override(providers.Object(AnsweringCreate()))
    container.get_order.override(providers.Object(AnsweringGet()))
    container.read_own_order.override(providers.Object(AnsweringRead()))


def _env() -> dict[str, str]:
    """``orders-service api``'s environment here: its defaults, plus what a deployment sets
    (JSON logs, a webhook secret) and a rate limit the one load-generating address never hits
    (the limiter still counts every request)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"REDIS_URL", "MONGODB_URI", "LOG_LEVEL", "LOG_FORMAT"}
        and not k.startswith("RATE_LIMIT")
    }
    # dev mode: the benchmark measures the HTTP path on the in-memory repository and the fakes
    # (no MongoDB or downstreams here); the request path is the production one.
    env.update(
        ORDERS_MODE="dev",
        LOG_FORMAT="json",
        PAYMENT_WEBHOOK_SECRETS=SECRET,
        JWT_SECRET=JWT_SECRET,
        JWT_ISSUER=JWT_ISSUER,
        JWT_AUDIENCE=JWT_AUDIENCE,
        ORDER_ID_SECRET="bench-order-id-key-0123456789abcdefgh",
        RATE_LIMIT_PER_MINUTE=str(10**9),
    )
    return env


def _serve(kind: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    from entrypoints.commands.api import serve, server_options  # noqa: PLC0415
    from entrypoints.settings import Settings  # noqa: PLC0415

    settings = Settings.from_env()  # _env(): the api command's
    if kind == "workers2":
        # The api command's own path for --workers 2 (which it refuses without MongoDB; creates
        # need no shared state, so the comparison runs on the in-memory repository).
        serve(settings, host="127.0.0.1", port=port, workers=2)
        return
    app: Any
    if kind in {"floor", "raw"}:
        from entrypoints.api.app import create_app  # noqa: PLC0415
        from entrypoints.log_config import configure_logging  # noqa: PLC0415

        configure_logging(settings)
        if kind == "floor":
            app = create_app(settings, configure=_answer_one_order, freeze_startup_objects=True)
        else:  # ADR 0007's option 1, an experiment (bench/bench_api_layers.py): not the service
            from bench.bench_api_layers import RawRoutes  # noqa: PLC0415

            app = RawRoutes(create_app(settings, freeze_startup_objects=True))
    elif kind == "fastapi":
        from bench.fastapi_twin import create_app as fastapi_app  # noqa: PLC0415

        app = fastapi_app(_order(0))
    else:
        app = _bare_app()
    # The twins write no logs of their own; the access log is off as in ours.
    options: dict[str, Any] = {
        **server_options(settings, host="127.0.0.1", port=port),
        "log_level": "warning",
    }
    uvicorn.run(app, **options)


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


def _raw(
    method: str, path: str, body: bytes = b"", headers: Sequence[str] = (), *, token: bool = True
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1", *headers]
    if path.startswith("/api/orders") and token:
        # Every buyer request carries its token (checked each time: part of what is measured),
        # but a guest's create (``--guest``).
        lines.append(f"authorization: Bearer {BUYER_TOKEN}")
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
    #: CPU time the server's processes spent on these requests (user + system).
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us(self) -> float:
        """Server CPU µs per request: what a request costs the server, whoever else is busy."""
        return self.cpu_seconds / self.requests * 1e6

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


CLI = str(Path(sys.executable).with_name("orders-service"))


def _start(kind: str, logs: Any) -> tuple[subprocess.Popen[bytes], int]:
    """``ours`` is ``orders-service api`` itself (``quiet``: the same with LOG_LEVEL=warning;
    ``guest``: the same with GUEST_CHECKOUT=true); its log lines go to ``logs`` (a file)."""
    port = free_port()
    env = _env()
    if kind == "quiet":
        env["LOG_LEVEL"] = "warning"
    if kind == "guest":
        env["GUEST_CHECKOUT"] = "true"
    command = (
        [CLI, "api", "--port", str(port)]
        if kind in {"ours", "quiet", "guest"}
        else [sys.executable, "-m", "bench.bench_api", "--serve", kind, "--port", str(port)]
    )
    process = subprocess.Popen(  # noqa: S603 - our own console script or this very module
        command, env=env, stderr=logs if kind not in {"bare", "fastapi"} else None
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
        sum(p.cpu_seconds for p in parts),
    )


@dataclass
class Comparison:
    """One server's throughput over another's, per round, for the spread."""

    op: str
    kind: str
    over: str
    ratios: list[float]
    target: str = ""


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and of its live children (the workers of a
    supervisor), from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


async def _paired(
    op: str,
    servers: dict[str, int],
    batches: dict[str, list[bytes]],
    args: argparse.Namespace,
    pids: dict[str, int],
) -> tuple[list[Run], dict[str, list[float]]]:
    """``args.rounds`` rounds, each one batch to every server in turn, so that they all meet the
    same machine (a shared VM drifts by tens of percent within a minute). Returns the merged
    rows and each server's rate per round. Each batch also records the server's CPU time."""
    size = len(next(iter(batches.values()))) // args.rounds
    parts: dict[str, list[Run]] = {kind: [] for kind in servers}
    for r in range(args.rounds):
        for kind, port in servers.items():
            chunk = batches[kind][r * size : (r + 1) * size]
            before = _cpu_seconds(pids[kind])
            part = await drive(kind, port, chunk, args.concurrency)
            part.cpu_seconds = _cpu_seconds(pids[kind]) - before
            parts[kind].append(part)
    runs = [_merge(f"{op} ({kind})", parts[kind]) for kind in servers]
    return runs, {kind: [p.rate for p in parts[kind]] for kind in servers}


def _compare(
    op: str, rates: dict[str, list[float]], pairs: Sequence[tuple[str, str, str]]
) -> list[Comparison]:
    return [
        Comparison(
            op, kind, over, [a / b for a, b in zip(rates[kind], rates[over], strict=True)], t
        )
        for kind, over, t in pairs
        if kind in rates and over in rates
    ]


async def paced(port: int, requests: list[bytes], rate: float, concurrency: int) -> Run:
    """Open loop: request i is due at ``i / rate`` s; its latency runs from when it was due, so
    a slow answer that delays the next ones counts against them too."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(enumerate(requests))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i, raw in queue:
                due = start + i / rate
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                status, _ = await _exchange(reader, writer, raw)
                latencies.append(loop.time() - due)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return Run(
        f"create order (ours) paced at {rate:,.0f}/s",
        len(requests),
        time.perf_counter() - began,
        latencies,
        statuses,
    )


#: The servers the options add: kind -> the option's attribute.
OPTIONAL_SERVERS = {
    "floor": "floor",
    "workers2": "workers_compare",
    "quiet": "log_cost",
    "guest": "guest",
    "raw": "raw_experiment",
}


async def bench(
    args: argparse.Namespace, logs: Any
) -> tuple[list[Run], list[Comparison], dict[str, float]]:
    from adapters.http.webhook_signature import signature_header  # noqa: PLC0415

    kinds = ["bare", "fastapi", "ours"] + [
        kind for kind, option in OPTIONAL_SERVERS.items() if getattr(args, option)
    ]
    started = {kind: _start(kind, logs) for kind in kinds}
    servers = {kind: port for kind, (_, port) in started.items()}
    pids = {kind: process.pid for kind, (process, _) in started.items()}
    extra: dict[str, float] = {}
    try:
        for kind, port in servers.items():
            # Warm-up: imports, first allocations, the JIT-less interpreter's caches (two rounds
            # for the two workers).
            warm = [
                _raw("POST", "/api/orders", json.dumps(_order(10_000_000 + i)).encode())
                for i in range(600 if kind == "workers2" else 300)
            ]
            await drive("warm-up", port, warm, args.concurrency)
        creates = [
            _raw("POST", "/api/orders", json.dumps(_order(i)).encode())
            for i in range(args.requests)
        ]
        # A guest's create carries no token: the same bodies, the token check left out.
        guest_creates = [
            _raw("POST", "/api/orders", json.dumps(_order(i)).encode(), token=False)
            for i in range(args.requests)
        ]
        create_bodies = {k: guest_creates if k == "guest" else creates for k in kinds}
        create_runs, create_rates = await _paired(
            "create order", servers, create_bodies, args, pids
        )
        create_cmp = _compare(
            "create order",
            create_rates,
            [
                ("ours", "fastapi", ">= 0.8x"),
                ("ours", "bare", ">= 0.55x"),
                ("fastapi", "bare", ""),
                ("floor", "bare", "use-cases answering one order"),
                ("workers2", "ours", "--workers 2 over 1, >= 1.4x"),
                ("ours", "quiet", "the request line's cost: LOG_LEVEL=info over warning"),
                ("ours", "guest", "the token check's cost: a buyer's token over a guest's create"),
                ("raw", "fastapi", "experiment: ADR 0007 option 1"),
                ("raw", "bare", "experiment: ADR 0007 option 1"),
            ],
        )
        # Guests read with their client secret: a different request, left out of the reads.
        readers = {k: port for k, port in servers.items() if k not in {"workers2", "guest"}}
        ids = [order_id for order_id, _ in await _created_ids(servers["ours"], 200, 20_000_000)]
        ours_reads = [_raw("GET", f"/api/orders/{ids[i % len(ids)]}") for i in range(args.requests)]
        twin_reads = [_raw("GET", "/api/orders/x") for _ in range(args.requests)]
        for same in ("quiet", "raw"):  # the same orders there (ids derive from reference ids)
            if same in servers:
                await _created_ids(servers[same], 200, 20_000_000)
        reads = {
            kind: ours_reads if kind in {"ours", "floor", "quiet", "raw"} else twin_reads
            for kind in readers
        }
        get_runs, get_rates = await _paired("get order", readers, reads, args, pids)
        get_cmp = _compare(
            "get order",
            get_rates,
            [
                ("ours", "bare", ">= 0.8x"),
                ("ours", "fastapi", ""),
                ("fastapi", "bare", ""),
                ("floor", "bare", "use-cases answering one order"),
                ("ours", "quiet", "the request line's cost: LOG_LEVEL=info over warning"),
                ("raw", "bare", "experiment: ADR 0007 option 1"),
            ],
        )
        ours_create = next(r for r in create_runs if r.name == "create order (ours)")
        half = ours_create.rate / 2
        extra["paced_rate"] = half
        paced_creates = [
            _raw("POST", "/api/orders", json.dumps(_order(40_000_000 + i)).encode())
            for i in range(args.paced_requests)
        ]
        paced_run = await paced(servers["ours"], paced_creates, half, args.concurrency)
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
            process.wait(timeout=30)
    return [*create_runs, *get_runs, paced_run, webhook], [*create_cmp, *get_cmp], extra


def report(
    runs: list[Run],
    comparisons: list[Comparison],
    args: argparse.Namespace,
    load_before: str,
    log_lines: tuple[int, int],
) -> str:
    by_name = {r.name: r for r in runs}
    lines = [
        f"One run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load_before} before it and "
        f"{os.getloadavg()[0]:.2f} at the end; {args.requests} requests per row over "
        f"{args.concurrency} keep-alive connections, in {args.rounds} rounds alternating the "
        f"servers (webhooks: {args.webhooks} over {args.webhook_concurrency}); every server on "
        "uvicorn + uvloop + httptools, one process each (workers2: two), the load generator "
        "(uvloop) in another process on the same CPUs.",
        "",
        "| scenario | requests/s | p50 ms | p99 ms | server CPU µs/request | answers |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for run in runs:
        answers = ", ".join(f"{s}: {n}" for s, n in sorted(run.statuses.items()))
        cpu = f"{run.cpu_us:,.0f}" if run.cpu_seconds else ""
        lines.append(
            f"| {run.name} | {run.rate:,.0f} | {run.percentile(50):.1f} | "
            f"{run.percentile(99):.1f} | {cpu} | {answers} |"
        )
    lines.append("")
    for c in comparisons:
        served, over = by_name[f"{c.op} ({c.kind})"], by_name[f"{c.op} ({c.over})"]
        spread = ", ".join(f"{r:.2f}" for r in c.ratios)
        target = (
            f" (target {c.target})"
            if c.target.startswith(">")
            else (f" ({c.target})" if c.target else "")
        )
        # The CPU ratio: the other server's CPU per request over this one's, i.e. the ratio of
        # the throughputs each would reach on a CPU of its own (not for workers2: two processes).
        by_cpu = (
            f"; by server CPU per request: **{over.cpu_us / served.cpu_us:.2f}x**"
            if c.kind != "workers2" and served.cpu_seconds and over.cpu_seconds
            else ""
        )
        lines.append(
            f"- {c.op}: {c.kind} / {c.over} = **{served.rate / over.rate:.2f}x**{target}; "
            f"median of rounds {statistics.median(c.ratios):.2f}{by_cpu}; per round: {spread}"
        )
    paced_run = next(r for r in runs if "paced" in r.name)
    lines.append(
        f"- create order at half its measured maximum: p99 **{paced_run.percentile(99):.1f} ms**"
        " (target <= 10 ms)"
    )
    webhook = by_name["payment webhook (ours)"]
    lines.append(
        f"- payment webhook answer p99: **{webhook.percentile(99):.1f} ms** (target < 50 ms)"
    )
    total, json_lines = log_lines
    lines.append(
        f"- log lines written by the api processes: {total:,} ({json_lines:,} of them JSON "
        "request lines)"
    )
    return "\n".join(lines)


def _count_log_lines(path: str) -> tuple[int, int]:
    total = requests = 0
    with open(path, "rb") as lines:
        for line in lines:
            total += 1
            if line.startswith(b"{") and b'"event":"request"' in line:
                requests += 1
    return total, requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_api", description=__doc__)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--webhooks", type=int, default=2000)
    parser.add_argument("--webhook-concurrency", type=int, default=8)
    parser.add_argument("--paced-requests", type=int, default=3000)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also serve the real app with use-cases that answer one order (the edge's cost)",
    )
    parser.add_argument(
        "--workers-compare",
        action="store_true",
        help="also serve the app with two worker processes and compare creates with one",
    )
    parser.add_argument(
        "--log-cost",
        action="store_true",
        help="also serve orders-service api with LOG_LEVEL=warning: what the request line costs",
    )
    parser.add_argument(
        "--guest",
        action="store_true",
        help="also serve orders-service api with GUEST_CHECKOUT=true and create without a token",
    )
    parser.add_argument(
        "--raw-experiment",
        action="store_true",
        help="also serve ADR 0007's option 1 sketched (bench_api_layers.RawRoutes), an experiment",
    )
    parser.add_argument(
        "--serve", choices=("bare", "fastapi", "floor", "workers2", "raw"), help=argparse.SUPPRESS
    )
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve, args.port)
        return 0
    if args.requests % args.rounds:
        parser.error("--requests must be a multiple of --rounds")
    import uvloop  # noqa: PLC0415

    load_before = f"{os.getloadavg()[0]:.2f}"
    with tempfile.NamedTemporaryFile(prefix="bench-api-", suffix=".log") as logs:
        runs, comparisons, _ = uvloop.run(bench(args, logs))
        log_lines = _count_log_lines(logs.name)
    print(report(runs, comparisons, args, load_before, log_lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
