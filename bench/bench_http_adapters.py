"""Outbound adapters under load: one ``HttpTokenTransferService`` (one pooled client) keeps N
calls in flight against the sandbox answering after a fixed latency, and must not run out of
connections. Reports calls/s and the overhead over the injected latency (p50/p99).

The sandbox runs as its own process (``orders-service sandbox``), so the client's event loop and
the server's do not share a CPU core's GIL. A second row sends the same requests with bare httpx,
to tell the adapter's own cost (retry context, breaker, msgspec, logging) from httpx's.

    python -m bench.bench_http_adapters [--concurrency 200] [--seconds 10] [--latency-ms 50]
                                        [--single-pool]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from adapters.http import CallRetryPolicy, HttpTokenTransferService, PoolExhausted, build_client
from application.errors import DownstreamError
from application.ports import TransferRequest
from bench.common import SANDBOX_API_KEY, percentile, start_sandbox

API_KEY = SANDBOX_API_KEY


@dataclass
class Result:
    name: str
    calls: int
    seconds: float
    latencies: list[float]
    errors: Counter[str] = field(default_factory=Counter)
    peak_in_flight: int = 0

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)


def transfer(i: int) -> TransferRequest:
    return TransferRequest(
        destination=f"0x{i:040x}",
        pool_id="pool-usdc",
        token_symbol="USDC",
        amount=Decimal("100.000001"),
        min_amount_out=Decimal("99"),
        slippage_percent=Decimal("1.5"),
    )


async def drive(
    name: str,
    one_call: Callable[[int], Awaitable[object]],
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
) -> Result:
    """``concurrency`` workers call back to back; calls started after the warm-up are measured."""
    result = Result(name=name, calls=0, seconds=seconds, latencies=[])
    counter = 0
    in_flight = 0
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def worker() -> None:
        nonlocal counter, in_flight
        while (began := time.perf_counter()) < stop_at:
            counter += 1
            in_flight += 1
            result.peak_in_flight = max(result.peak_in_flight, in_flight)
            try:
                await one_call(counter)
            except (DownstreamError, httpx.HTTPError) as exc:
                result.errors[type(exc).__name__] += 1
            else:
                if began >= measure_from:
                    result.calls += 1
                    result.latencies.append(time.perf_counter() - began)
            finally:
                in_flight -= 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


BODY = (
    b'{"destination":"0x0","pool_id":"pool-usdc","token_symbol":"USDC",'
    b'"amount":"100.000001","min_amount_out":"99","slippage_percent":"1.5"}'
)


async def run(args: argparse.Namespace, url: str) -> list[Result]:
    def client(per_shard: int) -> httpx.AsyncClient:
        return build_client(
            url,
            API_KEY,
            connect_timeout=3.0,
            read_timeout=10.0,
            max_connections=args.max_connections,
            connections_per_shard=per_shard,
        )

    def bare_on(pooled: httpx.AsyncClient, tag: str) -> Callable[[int], Awaitable[object]]:
        async def bare(i: int) -> object:
            answer = await pooled.post(
                "/v1/transfers", content=BODY, headers={"Idempotency-Key": f"{tag}-{i}:send_token"}
            )
            answer.raise_for_status()
            return answer.json()

        return bare

    def load(name: str, one_call: Callable[[int], Awaitable[object]]) -> Awaitable[Result]:
        return drive(
            name, one_call, concurrency=args.concurrency, seconds=args.seconds, warmup=args.warmup
        )

    results = []
    async with client(args.connections_per_shard) as sharded:
        adapter = HttpTokenTransferService(sharded, retry=CallRetryPolicy(attempts=1))

        async def via_adapter(i: int) -> object:
            return await adapter.send(transfer(i), idempotency_key=f"bench-{i}:send_token")

        results.append(await load("HttpTokenTransferService.send", via_adapter))
        results.append(await load("bare httpx POST, same client", bare_on(sharded, "bare")))
    if args.single_pool:
        async with client(args.max_connections) as single:
            results.append(await load("bare httpx POST, one httpcore pool", bare_on(single, "one")))
    return results


def report(results: list[Result], args: argparse.Namespace, stats: dict[str, object]) -> str:
    latency = args.latency_ms / 1000
    lines = [
        f"concurrency {args.concurrency}, injected latency {args.latency_ms:g} ms, "
        f"pool {args.max_connections} connections in shards of {args.connections_per_shard}, "
        f"{args.seconds:g} s measured per row",
        "",
        "| client | calls/s | p50 latency | p99 latency | p50 overhead | p99 overhead "
        "| peak in flight | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        p50, p99 = r.percentile(50), r.percentile(99)
        errors = ", ".join(f"{k} {v}" for k, v in r.errors.items()) or "none"
        lines.append(
            f"| {r.name} | {r.rate:.0f} | {p50 * 1000:.1f} ms | {p99 * 1000:.1f} ms "
            f"| {(p50 - latency) * 1000:.1f} ms | {(p99 - latency) * 1000:.1f} ms "
            f"| {r.peak_in_flight} | {errors} |"
        )
    lines += ["", f"sandbox counters: {stats}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--max-connections", type=int, default=256)
    parser.add_argument("--connections-per-shard", type=int, default=8)
    parser.add_argument(
        "--single-pool",
        action="store_true",
        help="add a row with one httpcore pool of --max-connections (shows why the client shards)",
    )
    args = parser.parse_args(argv)
    # One log line per call would measure the terminal; the adapters' logging stays on at WARNING.
    logging.basicConfig(level=logging.WARNING)
    process, url = start_sandbox(args.latency_ms)
    try:
        results = asyncio.run(run(args, url))
        stats = httpx.get(url + "/sandbox/stats").json()
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(report(results, args, {k: stats[k] for k in ("transfers", "duplicates_refused")}))
    pool_errors = sum(r.errors[PoolExhausted.__name__] for r in results)
    failed = sum(sum(r.errors.values()) for r in results)
    if pool_errors or failed:
        print(f"FAILED: {failed} errors, {pool_errors} of them pool errors", file=sys.stderr)
        return 1
    if results[0].peak_in_flight < args.concurrency:
        print("FAILED: the concurrency was never reached", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
