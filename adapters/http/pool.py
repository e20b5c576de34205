"""The transport of every downstream client: one client's connections spread over several small
httpcore pools (:class:`PoolShards`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx


class PoolShards(httpx.AsyncBaseTransport):
    """One client's connections, spread over several small httpcore pools.

    At most ``max_connections`` connections in all, in pools of ``connections_per_shard`` (the
    last one smaller): httpcore's pool rescans every connection whenever a request starts or ends,
    work quadratic in its size, so small pools keep each scan short (docs/benchmarks.md,
    "Outbound adapters"). A request goes to the shard with the fewest requests in flight, so it
    waits for a connection only when every shard is full, as with one pool of
    ``max_connections``. A shard's place is freed when the answer's body is closed.
    """

    def __init__(self, *, max_connections: int, connections_per_shard: int = 8) -> None:
        if max_connections < 1 or connections_per_shard < 1:
            raise ValueError("max_connections and connections_per_shard must be at least 1")
        sizes = [connections_per_shard] * (max_connections // connections_per_shard)
        if max_connections % connections_per_shard:
            sizes.append(max_connections % connections_per_shard)
        # One TLS context for all shards: building one costs ~20 ms (it loads the CA bundle).
        tls = httpx.create_ssl_context(trust_env=False)
        self._shards = [
            httpx.AsyncHTTPTransport(
                verify=tls,
                trust_env=False,
                limits=httpx.Limits(
                    max_connections=size, max_keepalive_connections=size, keepalive_expiry=30.0
                ),
            )
            for size in sizes
        ]
        self.in_flight = [0] * len(sizes)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        index = min(range(len(self._shards)), key=self.in_flight.__getitem__)
        self.in_flight[index] += 1
        try:
            response = await self._shards[index].handle_async_request(request)
        except BaseException:
            self.in_flight[index] -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)  # an async transport's answer
        response.stream = _ReleasingStream(response.stream, self, index)
        return response

    def release(self, index: int) -> None:
        self.in_flight[index] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """The answer's body; closing it (httpx always does) frees its place in the shard."""

    def __init__(self, inner: httpx.AsyncByteStream, owner: PoolShards, index: int) -> None:
        self._inner = inner
        self._owner = owner
        self._index: int | None = index

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._index is not None:
                self._owner.release(self._index)
                self._index = None
