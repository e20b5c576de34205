"""The client's connection pool: shards share the load, give their places back, and a call that
finds no free connection in time fails as transient without blaming the downstream."""

from __future__ import annotations

import asyncio

import pytest

from adapters.http import (
    CallRetryPolicy,
    HttpWalletService,
    PoolExhausted,
    PoolShards,
    build_breakers,
    build_client,
)
from application.errors import TransientDownstreamError
from sandbox import SandboxKnobs
from tests.integration.http.harness import API_KEY, SandboxControl


async def _wallet(service: HttpWalletService, n: int) -> str:
    wallet = await service.create_wallet(
        credential_id=f"cred-{n}", public_key="pk", idempotency_key=f"ord_{n}:create_wallet"
    )
    return wallet.address


async def test_concurrent_calls_spread_over_shards_and_give_their_places_back(
    sandbox: SandboxControl,
) -> None:
    await sandbox.configure(SandboxKnobs(latency_ms=300))
    client = build_client(
        sandbox.url,
        API_KEY,
        connect_timeout=1.0,
        read_timeout=2.0,
        max_connections=6,
        connections_per_shard=2,
    )
    transport = client._transport  # the one place a test needs httpx's private attribute
    assert isinstance(transport, PoolShards)
    service = HttpWalletService(client)
    async with client:
        calls = [asyncio.create_task(_wallet(service, n)) for n in range(6)]
        await asyncio.sleep(0.05)
        assert transport.in_flight == [2, 2, 2]  # all six in flight at once, two per shard
        addresses = await asyncio.gather(*calls)
        assert transport.in_flight == [0, 0, 0]
    assert len(set(addresses)) == 6
    assert (await sandbox.stats())["wallets"] == 6


async def test_no_free_connection_in_time_is_transient_and_spares_the_breaker(
    sandbox: SandboxControl,
) -> None:
    await sandbox.configure(SandboxKnobs(latency_ms=500))
    client = build_client(
        sandbox.url,
        API_KEY,
        connect_timeout=1.0,
        read_timeout=2.0,
        max_connections=1,
        pool_timeout=0.05,
    )
    breakers = build_breakers(threshold=1, reset_after_seconds=30)
    service = HttpWalletService(client, retry=CallRetryPolicy(attempts=3), breakers=breakers)
    async with client:
        first = asyncio.create_task(_wallet(service, 1))
        await asyncio.sleep(0.05)
        with pytest.raises(PoolExhausted) as caught:
            await _wallet(service, 2)
        assert isinstance(caught.value, TransientDownstreamError)
        await first
        # A breaker with threshold 1 would be open if the pool's own limit counted against it.
        assert await _wallet(service, 3)
    assert await sandbox.calls("create_wallet") == 2  # the starved call was never sent or retried
