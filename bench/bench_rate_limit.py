"""The cost of the shared rate limit: one Redis round trip per limited request.

    python -m bench.bench_rate_limit [--requests 3000] [--counts 20000]

1. ``SharedCounter.count`` alone (the Lua script over one connection), µs per call, against
   ``REDIS_URL`` (a database index of its own) or an embedded valkey server.
2. ``orders-service api`` as shipped (default settings and log level, dev mode for the
   in-memory store) answering ``GET /api/orders/<unknown>`` (404, counted by the limiter),
   sequential requests over one keep-alive connection: with ``REDIS_URL`` (counted in Redis) and
   without it (counted in the process's memory). Median and p99 of the wall clock per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devstack import embedded_redis, free_port
from entrypoints.api.rate_limit import SharedCounter

CLI = str(Path(sys.executable).with_name("orders-service"))


async def _counts(redis_url: str, n: int) -> list[float]:
    counter = SharedCounter(redis_url, 60)
    await counter.open()
    took = []
    try:
        for i in range(n):
            started = time.perf_counter()
            answer = await counter.count(f"bench-{i % 500}")
            took.append(time.perf_counter() - started)
            assert answer is not None, "Redis did not answer"
    finally:
        await counter.close()
    return took


@contextmanager
def _api(env_extra: dict[str, str]) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS", "MONGODB"))}
    env.update(ORDERS_MODE="dev", PAYMENT_WEBHOOK_SECRETS="s1", RATE_LIMIT_PER_MINUTE=str(10**9))
    env.update(env_extra)
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the API did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


def _requests(url: str, n: int) -> list[float]:
    took = []
    with httpx.Client(timeout=5) as client:
        for _ in range(200):  # warm-up
            client.get(f"{url}/api/orders/nope")
        for _ in range(n):
            started = time.perf_counter()
            status = client.get(f"{url}/api/orders/nope").status_code
            took.append(time.perf_counter() - started)
            assert status == 404, status
    return took


def _row(name: str, took: list[float]) -> str:
    us = sorted(t * 1e6 for t in took)
    p99 = us[int(len(us) * 0.99) - 1]
    return f"{name:<44} median {statistics.median(us):8.1f} µs   p99 {p99:8.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--counts", type=int, default=20000)
    args = parser.parse_args()
    with embedded_redis(os.environ.get("REDIS_URL")) as (server_url, _):
        redis_url = server_url
        if not urlsplit_has_db(redis_url):
            redis_url = redis_url.rstrip("/") + f"/{1 + os.getpid() % 15}"
        print(
            _row("SharedCounter.count (one EVALSHA)", asyncio.run(_counts(redis_url, args.counts)))
        )
        with _api({}) as url:
            local = _requests(url, args.requests)
        with _api({"REDIS_URL": redis_url}) as url:
            shared = _requests(url, args.requests)
        print(_row("API GET 404, limit in process memory", local))
        print(_row("API GET 404, limit shared in Redis", shared))
        extra_us = (statistics.median(shared) - statistics.median(local)) * 1e6
        print(f"{'difference (median)':<44} {extra_us:+8.1f} µs")


def urlsplit_has_db(url: str) -> bool:
    from urllib.parse import urlsplit  # noqa: PLC0415

    return bool(urlsplit(url).path.strip("/"))


if __name__ == "__main__":
    main()
