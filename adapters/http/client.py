"""Factories of what the adapters share per process: one pooled client per downstream base URL,
and one circuit-breaker factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from purgatory import AsyncCircuitBreakerFactory

from adapters.http.pool import PoolShards


def build_client(
    base_url: str,
    api_key: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_connections: int,
    pool_timeout: float | None = None,
    connections_per_shard: int = 8,
    api_key_header: str | None = None,
) -> httpx.AsyncClient:
    """One pooled client per downstream base URL, sending ``Authorization: Bearer <api_key>``
    (or, with ``api_key_header``, the bare key in that header: NOWPayments' ``x-api-key``).

    ``max_connections`` bounds the connections open at once (all may stay alive between calls),
    spread over pools of ``connections_per_shard`` (see :class:`PoolShards`); a call waiting
    longer than ``pool_timeout`` (default: ``connect_timeout``) for a free connection fails as
    transient. Writes share the read timeout. Redirects are not followed: the contract has none,
    so a 3xx is an unexpected answer.
    """
    timeout = httpx.Timeout(
        connect=connect_timeout,
        read=read_timeout,
        write=read_timeout,
        pool=connect_timeout if pool_timeout is None else pool_timeout,
    )
    return httpx.AsyncClient(
        base_url=base_url,
        headers={
            **(
                {"Authorization": f"Bearer {api_key}"}
                if api_key_header is None
                else {api_key_header: api_key}
            ),
            "Accept": "application/json",
            "User-Agent": "orders-service",
        },
        timeout=timeout,
        transport=PoolShards(
            max_connections=max_connections, connections_per_shard=connections_per_shard
        ),
        follow_redirects=False,
        # The downstreams are configured by URL; proxies from the environment would bypass
        # the shards and are not part of this service's setup.
        trust_env=False,
    )


async def open_client(
    base_url: str,
    api_key: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_connections: int,
    pool_timeout: float | None = None,
    connections_per_shard: int = 8,
    api_key_header: str | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """:func:`build_client` as an async-generator Resource: closed when the container shuts down."""
    client = build_client(
        base_url,
        api_key,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_connections=max_connections,
        pool_timeout=pool_timeout,
        connections_per_shard=connections_per_shard,
        api_key_header=api_key_header,
    )
    try:
        yield client
    finally:
        await client.aclose()


def build_breakers(
    *, threshold: int = 5, reset_after_seconds: float = 30.0
) -> AsyncCircuitBreakerFactory:
    """In-process circuit breakers: after ``threshold`` failed attempts in a row a downstream's
    circuit opens and calls fail fast for ``reset_after_seconds``; then one trial call decides.

    One factory may serve every adapter: each downstream has its own circuit, by service name.
    """
    if threshold < 1 or reset_after_seconds <= 0:
        raise ValueError("threshold must be at least 1 and reset_after_seconds positive")
    return AsyncCircuitBreakerFactory(default_threshold=threshold, default_ttl=reset_after_seconds)
