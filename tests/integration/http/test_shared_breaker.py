"""Circuit breakers shared through Redis (docs/adr/0017): two breaker sets stand for two
processes, each with its own HTTP client, on one real Redis, calling the sandbox over loopback.
One's trips are the other's; one trial at a time for both; without Redis each has its own."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from adapters.http import (
    CallRetryPolicy,
    CircuitOpen,
    HttpWalletService,
    SharedBreakers,
    build_breakers,
    build_client,
)
from application.errors import TransientDownstreamError
from devstack import free_port
from sandbox import FaultKind
from tests.integration.http.harness import API_KEY, SandboxControl

pytestmark = pytest.mark.redis

THRESHOLD = 3
RESET_SECONDS = 0.5
ERRORS: list[FaultKind] = ["error"]


@dataclass
class Process:
    """What one process has: its client, its breakers, its wallet adapter."""

    breakers: SharedBreakers
    wallets: HttpWalletService

    async def create_wallet(self) -> object:
        return await self.wallets.create_wallet(
            credential_id="cred-1", public_key="pk-1", idempotency_key="ord_1:create_wallet"
        )


async def _process(stack: AsyncExitStack, sandbox_url: str, redis_url: str, prefix: str) -> Process:
    breakers = SharedBreakers(
        redis_url,
        build_breakers(threshold=THRESHOLD, reset_after_seconds=RESET_SECONDS),
        threshold=THRESHOLD,
        reset_after_seconds=RESET_SECONDS,
        trial_seconds=2.0,
        key_prefix=prefix,
    )
    await breakers.open()
    stack.push_async_callback(breakers.close)
    client = build_client(
        sandbox_url, API_KEY, connect_timeout=1.0, read_timeout=2.0, max_connections=8
    )
    stack.push_async_callback(client.aclose)
    wallets = HttpWalletService(client, retry=CallRetryPolicy(attempts=1), breakers=breakers)
    return Process(breakers, wallets)


@pytest.fixture
async def two(sandbox: SandboxControl, redis_url: str) -> AsyncIterator[tuple[Process, Process]]:
    prefix = f"test:breaker:{uuid.uuid4().hex}:"
    async with AsyncExitStack() as stack:
        first = await _process(stack, sandbox.url, redis_url, prefix)
        second = await _process(stack, sandbox.url, redis_url, prefix)
        yield first, second


async def test_one_processs_trips_open_the_circuit_for_the_other(
    sandbox: SandboxControl, two: tuple[Process, Process]
) -> None:
    a, b = two
    await sandbox.script("create_wallet", *ERRORS * 10)
    # Failures alternate between the processes: neither sees THRESHOLD of its own...
    for caller in (a, b, a):
        with pytest.raises(TransientDownstreamError) as failed:
            await caller.create_wallet()
        assert not isinstance(failed.value, CircuitOpen)
    # ...yet both fail fast now: the count was the circuit's, not each process's.
    for caller in (b, a, b):
        with pytest.raises(CircuitOpen):
            await caller.create_wallet()
    assert await sandbox.calls("create_wallet") == THRESHOLD
    assert a.breakers.shared
    assert b.breakers.shared


async def test_after_the_reset_only_one_process_makes_the_trial(
    sandbox: SandboxControl, two: tuple[Process, Process]
) -> None:
    a, b = two
    await sandbox.script("create_wallet", *ERRORS * THRESHOLD, "timeout")
    for _ in range(THRESHOLD):
        with pytest.raises(TransientDownstreamError):
            await a.create_wallet()
    await asyncio.sleep(RESET_SECONDS + 0.1)  # the circuit's own reset time, by its design

    # Twenty calls from both at once while the trial hangs: one reaches the wallet service.
    outcomes = await asyncio.gather(
        *(p.create_wallet() for p in (a, b) * 10), return_exceptions=True
    )
    refused = [o for o in outcomes if isinstance(o, CircuitOpen)]
    assert len(refused) == 19
    assert await sandbox.calls("create_wallet") == THRESHOLD + 1
    # The trial failed: open again, for both.
    with pytest.raises(CircuitOpen):
        await b.create_wallet()


async def test_a_successful_trial_closes_the_circuit_for_both(
    sandbox: SandboxControl, two: tuple[Process, Process]
) -> None:
    a, b = two
    await sandbox.script("create_wallet", *ERRORS * THRESHOLD)
    for _ in range(THRESHOLD):
        with pytest.raises(TransientDownstreamError):
            await b.create_wallet()
    with pytest.raises(CircuitOpen):
        await a.create_wallet()
    await asyncio.sleep(RESET_SECONDS + 0.1)
    assert await a.create_wallet() is not None  # the trial
    assert await b.create_wallet() is not None
    assert await sandbox.calls("create_wallet") == THRESHOLD + 2


async def test_without_redis_each_process_has_its_own_breaker_and_says_so_once(
    sandbox: SandboxControl, caplog: pytest.LogCaptureFixture
) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    await sandbox.script("create_wallet", *ERRORS * 10)
    caplog.set_level(logging.WARNING, logger="adapters.http.breakers")
    async with AsyncExitStack() as stack:
        a = await _process(stack, sandbox.url, dead_redis, "test:")
        b = await _process(stack, sandbox.url, dead_redis, "test:")
        for _ in range(THRESHOLD):
            with pytest.raises(TransientDownstreamError) as failed:
                await a.create_wallet()
            assert not isinstance(failed.value, CircuitOpen)
        with pytest.raises(CircuitOpen):
            await a.create_wallet()
        # b's circuit is its own: a's trips did not reach it.
        with pytest.raises(TransientDownstreamError) as failed:
            await b.create_wallet()
        assert not isinstance(failed.value, CircuitOpen)
        assert not a.breakers.shared
    assert await sandbox.calls("create_wallet") == THRESHOLD + 1
    said = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(said) == 2  # once per process
