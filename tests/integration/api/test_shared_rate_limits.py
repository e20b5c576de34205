"""Rate limits shared by API processes through Redis, keyed by the real client address:
two ``orders-service api`` processes on one Redis limit a client in total, behind a trusted
proxy two forwarded addresses have buckets of their own, and a forged header from an untrusted
peer changes nothing. Real processes, real Redis, real HTTP on loopback."""

from __future__ import annotations

import logging
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis

from devstack import free_port
from entrypoints.api.rate_limit import KEY_PREFIX, SharedCounter
from tests.integration.api.test_api_command import CLI, _env

LIMIT = 6


def _own_database(url: str) -> str:
    """The test's Redis with a database index of its own (never db 0 of a shared Redis)."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        return url
    return urlunsplit(parts._replace(path=f"/{1 + os.getpid() % 15}"))


@contextmanager
def two_apis(redis_url: str, tmp_path: Path, **extra: str) -> Iterator[list[str]]:
    """Two API processes on ``redis_url``, limited to LIMIT requests per client and minute."""
    processes = []
    urls = []
    logs = []
    try:
        for n in range(2):
            port = free_port()
            log = (tmp_path / f"api{n}.log").open("wb")
            logs.append(log)
            processes.append(
                subprocess.Popen(  # noqa: S603 - our own console script
                    [CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
                    env=_env(
                        PAYMENT_WEBHOOK_SECRETS="s1",
                        REDIS_URL=redis_url,
                        RATE_LIMIT_PER_MINUTE=str(LIMIT),
                        **extra,
                    ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, processes, strict=True):
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "an API process exited at startup"
                assert time.monotonic() < deadline, "an API did not start within 30 s"
                time.sleep(0.05)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)
        for log in logs:
            log.close()


def _statuses(urls: list[str], count: int, headers: list[dict[str, str]]) -> list[int]:
    """``count`` reads of an unknown order, alternating between the processes."""
    out = []
    with httpx.Client(timeout=5) as client:
        for i in range(count):
            url = urls[i % len(urls)]
            out.append(
                client.get(f"{url}/api/orders/nope", headers=headers[i % len(headers)]).status_code
            )
    return out


@pytest.fixture
def redis_db(redis_url: str) -> str:
    return _own_database(redis_url)


def _forget(redis_db: str, *clients: str) -> None:
    client = redis.Redis.from_url(redis_db)
    try:
        client.delete(*(KEY_PREFIX + c for c in clients))
    finally:
        client.close()


def test_two_processes_limit_a_client_in_total_and_ignore_forged_headers(
    redis_db: str, tmp_path: Path
) -> None:
    _forget(redis_db, "127.0.0.1")
    with two_apis(redis_db, tmp_path) as urls:
        # Every request claims another address: the peer is not a trusted proxy, so it is
        # ignored and all of them count against 127.0.0.1.
        forged = [{"X-Forwarded-For": f"203.0.113.{n}"} for n in range(1, 15)]
        statuses = _statuses(urls, 2 * LIMIT + 2, forged)

    assert statuses[:LIMIT] == [404] * LIMIT, statuses
    # Not LIMIT per process: the two processes count in one Redis.
    assert statuses[LIMIT:] == [429] * (LIMIT + 2), statuses


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket(
    redis_db: str, tmp_path: Path
) -> None:
    # Addresses of this run only (another run within the minute would share the counts).
    tag = uuid.uuid4().int % 250 + 1
    alice, bob = f"198.51.100.{tag}", f"2001:db8::{tag:x}"
    _forget(redis_db, alice, bob)
    with two_apis(redis_db, tmp_path, TRUSTED_PROXIES="127.0.0.0/8") as urls:
        alice_statuses = _statuses(urls, LIMIT + 1, [{"X-Forwarded-For": alice}])
        # What a client writes left of the address our proxy appended changes nothing.
        forged = _statuses(urls, 1, [{"X-Forwarded-For": f"6.6.6.6, {alice}"}])
        bob_statuses = _statuses(urls, LIMIT, [{"Forwarded": f'for="[{bob}]:4711"'}])

    assert alice_statuses == [404] * LIMIT + [429], alice_statuses
    assert forged == [429]
    assert bob_statuses == [404] * LIMIT, bob_statuses


async def test_without_redis_the_counter_says_so_once_and_steps_aside(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counter = SharedCounter(f"redis://127.0.0.1:{free_port()}/0", 60)
    await counter.open()
    try:
        with caplog.at_level(logging.WARNING, logger="entrypoints.api.rate_limit"):
            first = await counter.count("198.51.100.1")
            second = await counter.count("198.51.100.1")
    finally:
        await counter.close()

    # None: the middleware counts in the process's memory instead.
    assert (first, second) == (None, None)
    lines = [r.getMessage() for r in caplog.records if "rate limits" in r.getMessage()]
    assert len(lines) == 1
    assert "Redis unreachable" in lines[0]
