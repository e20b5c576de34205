"""Watching an order's events live: what feeds ``GET /api/orders/{id}/events`` as
``text/event-stream`` (docs/events.md).

Fan-out across processes by polling the outbox: the events live in the order document (ADR
0013), so whichever process wrote them (the worker, another API process), a read of the order
sees them. One poller per watched order per API process, however many clients watch it; each
client has a bounded queue, and a client that falls that far behind is dropped (its stream
ends; it reconnects with ``Last-Event-ID`` and replays from the store, losing nothing), never
buffered without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

from application.errors import InfrastructureUnavailable
from application.ports import OrderRepository
from domain import Order, OrderEvent

log = logging.getLogger(__name__)


class _End:
    """The stream is over: the order is finished (or the process is stopping)."""


class _Dropped:
    """The client fell a whole queue behind: it is dropped."""


END = _End()
DROPPED = _Dropped()
Item = OrderEvent | _End | _Dropped


@dataclass(eq=False)
class Watch:
    """One client's stream of one order: events after ``cursor`` go into ``queue``."""

    order_id: str
    cursor: int
    queue: asyncio.Queue[Item]
    closed: bool = False


@dataclass
class _Order:
    watches: set[Watch] = field(default_factory=set)
    poller: asyncio.Task[None] | None = None


class EventStreams:
    """Every live stream of this process."""

    def __init__(
        self, repository: OrderRepository, *, poll: timedelta, queue_size: int = 256
    ) -> None:
        self._repository = repository
        self._poll_every = poll
        self._queue_size = queue_size
        self._orders: dict[str, _Order] = {}
        self._stopping = False

    @property
    def watched_orders(self) -> int:
        return len(self._orders)

    def watch(self, order: Order, after: int) -> Watch:
        """A stream of ``order``'s events after sequence ``after``: those already stored at once,
        then new ones as any process stores them."""
        watch = Watch(order.id, after, asyncio.Queue(self._queue_size))
        self._feed(watch, order)
        if watch.closed or self._stopping:
            if not watch.closed:
                self._close(watch, END)
            return watch
        entry = self._orders.setdefault(order.id, _Order())
        entry.watches.add(watch)
        if entry.poller is None:
            entry.poller = asyncio.create_task(self._poll(order.id), name=f"events {order.id}")
        return watch

    def unwatch(self, watch: Watch) -> None:
        watch.closed = True
        entry = self._orders.get(watch.order_id)
        if entry is not None:
            entry.watches.discard(watch)

    def end_all(self) -> list[asyncio.Task[None]]:
        """End every stream now and refuse new ones (the process is stopping: its clients
        reconnect elsewhere with ``Last-Event-ID``); the pollers, cancelled."""
        self._stopping = True
        pollers = []
        for entry in list(self._orders.values()):
            for watch in list(entry.watches):
                self._close(watch, END)
            if entry.poller is not None:
                entry.poller.cancel()
                pollers.append(entry.poller)
        return pollers

    async def aclose(self) -> None:
        """End every stream and wait for the pollers to stop."""
        await asyncio.gather(*self.end_all(), return_exceptions=True)
        self._orders.clear()

    async def _poll(self, order_id: str) -> None:
        entry = self._orders[order_id]
        try:
            while entry.watches:
                await asyncio.sleep(self._poll_every.total_seconds())
                try:
                    order = await self._repository.get(order_id)
                except InfrastructureUnavailable as exc:
                    log.warning("event stream of %s: %s", order_id, exc)
                    continue
                if order is None:
                    continue
                for watch in list(entry.watches):
                    self._feed(watch, order)
        finally:
            if self._orders.get(order_id) is entry:
                del self._orders[order_id]

    def _feed(self, watch: Watch, order: Order) -> None:
        for event in order.events[watch.cursor :]:
            try:
                watch.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.info(
                    "event stream of %s: client %d events behind, dropped",
                    order.id,
                    watch.queue.qsize(),
                )
                self._close(watch, DROPPED)
                return
            watch.cursor = event.sequence
        if order.is_terminal and watch.cursor >= len(order.events):
            self._close(watch, END)

    def _close(self, watch: Watch, last: Item) -> None:
        """Stop feeding ``watch``; its reader gets ``last`` next (what is queued is dropped
        with a slow client: it replays from the store)."""
        if watch.closed:
            return
        self.unwatch(watch)
        if last is DROPPED:
            while not watch.queue.empty():
                watch.queue.get_nowait()
        with contextlib.suppress(asyncio.QueueFull):
            watch.queue.put_nowait(last)


async def open_event_streams(
    repository: OrderRepository, poll: timedelta
) -> AsyncIterator[EventStreams]:
    """The process's streams as a container Resource: every stream ends at shutdown."""
    streams = EventStreams(repository, poll=poll)
    try:
        yield streams
    finally:
        await streams.aclose()
