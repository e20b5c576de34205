"""``CachedOrderStats``: figures from memory, refreshed in the background, with their age."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.fakes.clock import FakeClock
from adapters.memory.queries import InMemoryOrderQueries
from adapters.memory.repository import InMemoryOrderRepository
from application.order_stats import CachedOrderStats, OrderStats
from application.ports.order_queries import OrderBookFigures
from tests.contract.orders import new_order


class CountingQueries(InMemoryOrderQueries):
    """The in-memory queries, counting the aggregations asked and able to hold or fail one."""

    def __init__(self, repository: InMemoryOrderRepository) -> None:
        super().__init__(repository)
        self.figures_asked = 0
        self.gate: asyncio.Event | None = None
        self.fail_next = False

    async def figures(self) -> OrderBookFigures:
        self.figures_asked += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("store down")
        return await super().figures()


@pytest.fixture
def repository() -> InMemoryOrderRepository:
    return InMemoryOrderRepository()


@pytest.fixture
def queries(repository: InMemoryOrderRepository) -> CountingQueries:
    return CountingQueries(repository)


def cached(queries: CountingQueries) -> CachedOrderStats:
    return CachedOrderStats(
        OrderStats(queries), refresh=timedelta(seconds=30), max_stale=timedelta(seconds=300)
    )


async def test_fresh_figures_are_answered_from_memory(
    repository: InMemoryOrderRepository, queries: CountingQueries
) -> None:
    clock = FakeClock()
    stats = cached(queries)
    await repository.add(new_order(1))
    first = await stats.execute(clock.now())
    await repository.add(new_order(2))
    clock.advance(29)

    second = await stats.execute(clock.now())

    assert queries.figures_asked == 1
    assert (first.total, second.total) == (1, 1)  # not re-counted within the interval
    assert second.as_of == first.as_of == first.at
    assert second.at == first.at + timedelta(seconds=29)


async def test_stale_figures_are_answered_at_once_and_refreshed_in_the_background(
    repository: InMemoryOrderRepository, queries: CountingQueries
) -> None:
    clock = FakeClock()
    stats = cached(queries)
    await repository.add(new_order(1))
    first = await stats.execute(clock.now())
    await repository.add(new_order(2))
    clock.advance(31)
    queries.gate = asyncio.Event()  # the refresh cannot finish yet...

    stale = await stats.execute(clock.now())  # ...and the request does not wait for it
    again = await stats.execute(clock.now())

    assert (stale.total, stale.as_of) == (1, first.as_of)
    assert again.as_of == first.as_of
    await asyncio.sleep(0)  # the background refresh starts
    assert queries.figures_asked == 2  # one refresh for both requests
    queries.gate.set()
    await stats.refreshed()
    fresh = await stats.execute(clock.now())
    assert (fresh.total, fresh.as_of) == (2, clock.now())
    assert queries.figures_asked == 2


async def test_concurrent_first_requests_share_one_aggregation(queries: CountingQueries) -> None:
    clock = FakeClock()
    stats = cached(queries)
    queries.gate = asyncio.Event()
    waiting = [asyncio.create_task(stats.execute(clock.now())) for _ in range(5)]
    await asyncio.sleep(0)
    queries.gate.set()

    answers = await asyncio.gather(*waiting)

    assert queries.figures_asked == 1
    assert {a.as_of for a in answers} == {clock.now()}


async def test_figures_too_old_are_awaited_not_answered(
    repository: InMemoryOrderRepository, queries: CountingQueries
) -> None:
    clock = FakeClock()
    stats = cached(queries)
    await stats.execute(clock.now())
    await repository.add(new_order(1))
    clock.advance(301)  # idle past max_stale

    answer = await stats.execute(clock.now())

    assert (answer.total, answer.as_of) == (1, clock.now())


async def test_a_failed_refresh_keeps_the_previous_figures(
    repository: InMemoryOrderRepository, queries: CountingQueries
) -> None:
    clock = FakeClock()
    stats = cached(queries)
    first = await stats.execute(clock.now())
    clock.advance(31)
    queries.fail_next = True

    stale = await stats.execute(clock.now())
    await stats.refreshed()
    after = await stats.execute(clock.now())  # starts another refresh, which succeeds
    await stats.refreshed()

    assert stale.as_of == after.as_of == first.as_of
    assert (await stats.execute(clock.now())).as_of == clock.now()


async def test_with_nothing_cached_the_error_reaches_the_caller(queries: CountingQueries) -> None:
    queries.fail_next = True
    with pytest.raises(ConnectionError):
        await cached(queries).execute(FakeClock().now())
