"""Rate limits shared by API processes through Redis, keyed by the verified buyer, else by the
real client address: two ``orders-service api`` processes on one Redis limit a client in total,
behind a trusted proxy two forwarded addresses have buckets of their own, and a forged header from
an untrusted peer changes nothing; two buyers at one address have a bucket each, one buyer at two
addresses has one, and a token that does not verify counts against its address. Real processes,
real Redis, real HTTP on loopback (one in-process app for what a request verifies)."""

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

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from adapters.http.buyer_tokens import BuyerAuthenticator
from devstack import free_port
from entrypoints.api.rate_limit import BUYER_KEY, KEY_PREFIX, SharedCounter
from entrypoints.container import resolve
from tests.integration.api.test_api_command import CLI, _env
from tests.support.api import api_settings, api_starter
from tests.support.buyers import auth, claims_of, signed

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
                        # Guests (no token) are counted per address; buyers per buyer.
                        GUEST_CHECKOUT="true",
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
    """``count`` reads of an unknown order, alternating between the processes and ``headers``
    (none: a guest's, with ``GUEST_CHECKOUT``; ``Authorization`` for a buyer's)."""
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


def _run_tag() -> str:
    """A tag of this run: buyers and addresses of their own (another run within the minute would
    share the counts)."""
    return uuid.uuid4().hex[:12]


def test_two_buyers_at_one_address_have_a_bucket_each(redis_db: str, tmp_path: Path) -> None:
    tag = _run_tag()
    alice, bob = f"alice-{tag}", f"bob-{tag}"
    _forget(redis_db, "127.0.0.1", BUYER_KEY + alice, BUYER_KEY + bob)
    with two_apis(redis_db, tmp_path) as urls:
        # Every request from 127.0.0.1 (no trusted proxy), across both processes.
        alice_statuses = _statuses(urls, LIMIT + 1, [auth(alice)])
        bob_statuses = _statuses(urls, LIMIT, [auth(bob)])
        # The address's own bucket (guests) was not spent by either buyer.
        guest_statuses = _statuses(urls, LIMIT, [{}])
        # A new token of alice's is still alice: the bucket is the buyer's, not the token's.
        again = _statuses(urls, 1, [auth(alice, jti=tag)])

    assert alice_statuses == [404] * LIMIT + [429], alice_statuses
    assert bob_statuses == [404] * LIMIT, bob_statuses
    assert guest_statuses == [404] * LIMIT, guest_statuses
    assert again == [429]


def test_one_buyer_at_two_addresses_shares_one_bucket(redis_db: str, tmp_path: Path) -> None:
    tag = _run_tag()
    buyer = f"carol-{tag}"
    n = uuid.uuid4().int % 250 + 1
    home, phone = f"198.51.100.{n}", f"2001:db8::{n:x}"
    _forget(redis_db, home, phone, BUYER_KEY + buyer)
    with two_apis(redis_db, tmp_path, TRUSTED_PROXIES="127.0.0.0/8") as urls:
        statuses = _statuses(
            urls,
            LIMIT + 2,
            [auth(buyer) | {"X-Forwarded-For": home}, auth(buyer) | {"X-Forwarded-For": phone}],
        )
        # Each address, as a guest, still has its whole budget.
        guests = _statuses(urls, 2, [{"X-Forwarded-For": home}, {"X-Forwarded-For": phone}])

    assert statuses == [404] * LIMIT + [429, 429], statuses
    assert guests == [404, 404]


def test_a_token_that_does_not_verify_counts_against_its_address(
    redis_db: str, tmp_path: Path
) -> None:
    tag = _run_tag()
    victim = f"dave-{tag}"
    n = uuid.uuid4().int % 250 + 1
    forger, victims_address = f"203.0.113.{n}", f"192.0.2.{n}"
    _forget(redis_db, forger, victims_address, BUYER_KEY + victim)
    forged = {"Authorization": f"Bearer {signed(claims_of(victim), key='not-the-secret' * 3)}"}
    expired = auth(victim, exp=int(time.time()) - 3600)
    with two_apis(redis_db, tmp_path, TRUSTED_PROXIES="127.0.0.0/8") as urls:
        # Tokens naming the victim, one forged and one expired: each a 401, counted against the
        # forger's address until it is spent.
        statuses = _statuses(
            urls,
            LIMIT + 1,
            [forged | {"X-Forwarded-For": forger}, expired | {"X-Forwarded-For": forger}],
        )
        as_guest = _statuses(urls, 1, [{"X-Forwarded-For": forger}])
        # The victim's own bucket was never touched.
        victim_statuses = _statuses(
            urls, LIMIT, [auth(victim) | {"X-Forwarded-For": victims_address}]
        )

    assert statuses == [401] * LIMIT + [429], statuses
    assert as_guest == [429]
    assert victim_statuses == [404] * LIMIT, victim_statuses


async def test_a_token_is_verified_once_per_request_limiter_included() -> None:
    settings = api_settings(rate_limit_per_minute=100)
    async with api_starter(settings, FakePaymentGateway(SystemClock()))() as api:
        authenticator = await resolve(api.container.buyer_authenticator, BuyerAuthenticator)
        tokens = authenticator.tokens
        assert tokens is not None
        forged = signed(claims_of(f"eve-{_run_tag()}"), key="not-the-secret" * 3)

        refused = await api.client.get(
            "/api/orders/nope", headers={"Authorization": f"Bearer {forged}"}
        )
        after_forged = tokens.verifications
        fresh = await api.client.get("/api/orders/nope", headers=auth(f"frank-{_run_tag()}"))

    assert refused.status_code == 401
    assert fresh.status_code == 404
    # One check each: the limiter's outcome is the route's (a forged token is not cached).
    assert (after_forged, tokens.verifications) == (1, 2)


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
