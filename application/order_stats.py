"""The numbers of the whole order book, for the operator's dashboard.

``OrderStats`` asks the store (one aggregation over every order); ``CachedOrderStats`` keeps its
last answer and refreshes it in the background, so ``/api/admin/stats`` costs the store at most
one aggregation per refresh interval and API process, whatever the request rate, and says how
old its figures are (``as_of``). Why a cache and not maintained counters: docs/operations.md.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from application.ports import Clock
from application.ports.order_queries import (
    OPEN_STATUSES,
    PAID_STATUSES,
    MonthVolume,
    OldestOrder,
    OrderQueries,
    StatusCounts,
)
from domain import OrderStatus

_RATE = Decimal("0.0001")
_SECONDS = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class Stats:
    """Counts per status, volume per month, success and completion rates (fractions 0..1,
    None with nothing to divide), paid → completed times in seconds, parked orders and the
    oldest order of each non-terminal status with its age at ``at``. ``as_of``: when the store
    was asked (the figures' freshness); ``at``: the time of the answer (equal when uncached)."""

    at: datetime
    as_of: datetime
    total: int
    counts: StatusCounts
    months: list[MonthVolume]
    payment_success_rate: Decimal | None
    completion_rate: Decimal | None
    paid_to_completed_avg_seconds: Decimal | None
    paid_to_completed_p95_seconds: Decimal | None
    parked: int
    oldest: dict[OrderStatus, OldestOrder]

    def age_seconds(self, status: OrderStatus) -> Decimal | None:
        oldest = self.oldest.get(status)
        if oldest is None:
            return None
        return Decimal((self.at - oldest.created_at).total_seconds()).quantize(_SECONDS)


def _ratio(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_RATE, rounding=ROUND_HALF_EVEN)


def _seconds(milliseconds: Decimal) -> Decimal:
    return (milliseconds / 1000).quantize(_SECONDS, rounding=ROUND_HALF_EVEN)


class OrderStats:
    """Ask the store for its figures and derive the rates: the arithmetic lives here, once, so
    every store gives the same numbers for the same orders.

    - payment success rate: paid orders / orders whose payment is decided (not ``pending``);
    - completion rate: ``completed`` / paid orders.
    """

    def __init__(self, queries: OrderQueries) -> None:
        self._queries = queries

    async def execute(self, now: datetime) -> Stats:
        figures = await self._queries.figures()
        counts = figures.counts
        paid = sum(counts.of(s) for s in PAID_STATUSES)
        decided = counts.total - counts.of(OrderStatus.PENDING)
        timing = figures.paid_to_completed
        return Stats(
            at=now,
            as_of=now,
            total=counts.total,
            counts=counts,
            months=figures.months,
            payment_success_rate=_ratio(paid, decided),
            completion_rate=_ratio(counts.of(OrderStatus.COMPLETED), paid),
            paid_to_completed_avg_seconds=(
                _seconds(Decimal(timing.total_ms) / timing.count) if timing.count else None
            ),
            paid_to_completed_p95_seconds=(
                _seconds(Decimal(timing.p95_ms)) if timing.p95_ms is not None else None
            ),
            parked=counts.parked,
            oldest=figures.oldest,
        )


log = logging.getLogger(__name__)


class CachedOrderStats:
    """``OrderStats`` behind a cache refreshed in the background (stale-while-revalidate).

    - figures younger than ``refresh``: answered from memory;
    - older: answered from memory too, and one refresh starts in the background (never two at
      once), so no request waits for the aggregation;
    - none yet, or older than ``max_stale`` (the process was idle): the request awaits
      the refresh, shared by every request that arrives meanwhile.

    A failed refresh keeps the previous figures (their ``as_of`` tells their age); a request that
    has nothing to answer with gets the error. One per process (a container Singleton)."""

    def __init__(
        self,
        stats: OrderStats,
        refresh: timedelta,
        *,
        max_stale: timedelta | None = None,
    ) -> None:
        self._stats = stats
        self._refresh = refresh
        self._max_stale = max_stale if max_stale is not None else 10 * refresh
        self._cached: Stats | None = None
        self._running: asyncio.Task[Stats] | None = None

    async def execute(self, now: datetime) -> Stats:
        cached = self._cached
        if cached is None or now - cached.as_of >= self._max_stale:
            # asyncio.shield: a caller that gives up does not cancel the others' refresh.
            fresh = await asyncio.shield(self._start_refresh(now))
            return replace(fresh, at=now)
        if now - cached.as_of >= self._refresh:
            self._start_refresh(now)
        return replace(cached, at=now)

    async def refreshed(self) -> None:
        """Wait for the refresh in flight, if any (tests, shutdown)."""
        running = self._running
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)

    def _start_refresh(self, now: datetime) -> asyncio.Task[Stats]:
        running = self._running
        loop = asyncio.get_running_loop()
        # A task of another (closed) event loop never finishes here: start one of this loop's.
        if running is None or running.done() or running.get_loop() is not loop:
            running = self._running = loop.create_task(self._compute(now))
            running.add_done_callback(_retrieve)
        return running

    async def _compute(self, now: datetime) -> Stats:
        try:
            fresh = await self._stats.execute(now)
        except Exception:
            if self._cached is not None:
                log.warning(
                    "order stats refresh failed; answering the figures as of %s",
                    self._cached.as_of,
                    exc_info=True,
                )
            raise
        if self._cached is None or fresh.as_of >= self._cached.as_of:
            self._cached = fresh
        return fresh


def _retrieve(task: asyncio.Task[Stats]) -> None:
    """Mark a background refresh's error as seen (it was logged, or a waiting request got it)."""
    if not task.cancelled():
        task.exception()


class CurrentOrderStats:
    """The operator's figures as of now: ``CachedOrderStats`` asked at the clock's time."""

    def __init__(self, cache: CachedOrderStats, clock: Clock) -> None:
        self._cache = cache
        self._clock = clock

    async def execute(self) -> Stats:
        return await self._cache.execute(self._clock.now())


@dataclass(frozen=True, slots=True)
class OpenOrderAges:
    """``parked``: orders waiting for a person; ``oldest``: the age of the oldest order of each
    non-terminal status (zero for a status with none)."""

    parked: int
    oldest: dict[OrderStatus, timedelta]


class MeasureOpenOrders:
    """The cheap figures a metrics scrape refreshes each time (index-served reads only); the
    store's errors are raised unchanged."""

    def __init__(self, queries: OrderQueries, clock: Clock) -> None:
        self._queries = queries
        self._clock = clock

    async def execute(self) -> OpenOrderAges:
        oldest = await self._queries.oldest_open()
        parked = await self._queries.parked_count()
        now = self._clock.now()
        ages = {}
        for status in OPEN_STATUSES:
            found = oldest.get(status)
            age = timedelta(0) if found is None else max(now - found.created_at, timedelta(0))
            ages[status] = age
        return OpenOrderAges(parked=parked, oldest=ages)
