"""``EventStreams``: one poller per watched order, a bounded queue per client, a slow client
dropped rather than buffered, the end once the order is finished."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from adapters.fakes.clock import FakeClock
from adapters.memory import InMemoryOrderRepository
from application.watch_events import DROPPED, END, EventStreams, Item, Watch
from domain import Order, OrderEvent, Payment, TransferResult
from tests.support.orders import order_request


async def stored(repository: InMemoryOrderRepository) -> Order:
    payment = Payment("pay-1", "tok", None, "pending", Decimal(13), "EUR")
    order = Order.place(order_request(), payment, at=FakeClock().now())
    await repository.add(order)
    return order


async def complete(repository: InMemoryOrderRepository, order: Order) -> None:
    now = FakeClock().now()
    order.mark_paid(now)
    order.start_step(order.next_step(), now)
    order.wallet_created("0xabc", now)
    order.tokens_sent(TransferResult("tr", "confirmed", "sig", Decimal(12)), now)
    await repository.save(order, expected_version=order.version)


async def drain(watch: Watch, until: Item) -> list[Item]:
    got: list[Item] = []
    async with asyncio.timeout(5):
        while not got or got[-1] is not until:
            got.append(await watch.queue.get())
    return got


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true within {within} s")


def sequences(items: list[Item]) -> list[int]:
    return [i.sequence for i in items if isinstance(i, OrderEvent)]


async def test_watchers_of_one_order_share_one_poller_and_end_with_the_order() -> None:
    repository = InMemoryOrderRepository()
    streams = EventStreams(repository, poll=timedelta(milliseconds=10))
    order = await stored(repository)
    first, second = streams.watch(order, 0), streams.watch(order, 1)
    assert streams.watched_orders == 1
    await complete(repository, order)
    assert sequences(await drain(first, END)) == [1, 2, 3, 4, 5, 6]
    assert sequences(await drain(second, END)) == [2, 3, 4, 5, 6]
    await eventually(lambda: streams.watched_orders == 0)  # the poller stops with its watchers


async def test_a_client_a_whole_queue_behind_is_dropped_not_buffered() -> None:
    repository = InMemoryOrderRepository()
    streams = EventStreams(repository, poll=timedelta(milliseconds=10), queue_size=3)
    order = await stored(repository)
    slow = streams.watch(order, 0)  # reads nothing
    await complete(repository, order)  # five more events: more than the queue holds
    await eventually(lambda: slow.closed)  # the poller's next look finds the queue full
    assert await drain(slow, DROPPED) == [DROPPED]  # what was queued is let go
    await streams.aclose()


async def test_a_finished_order_s_stream_is_its_events_then_the_end_with_no_poller() -> None:
    repository = InMemoryOrderRepository()
    streams = EventStreams(repository, poll=timedelta(milliseconds=10))
    order = await stored(repository)
    await complete(repository, order)
    watch = streams.watch(order, 4)
    assert sequences(await drain(watch, END)) == [5, 6]
    assert streams.watched_orders == 0


async def test_closing_ends_every_stream() -> None:
    repository = InMemoryOrderRepository()
    streams = EventStreams(repository, poll=timedelta(milliseconds=10))
    watch = streams.watch(await stored(repository), 1)
    await streams.aclose()
    assert await drain(watch, END) == [END]
