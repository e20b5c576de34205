"""``RelayEvents``: one pass of the event relay (docs/events.md, ADR 0016).

Each subscriber gets each order's events one at a time, in sequence, the next only after the
previous one is done (acknowledged with a 2xx, refused with 410, or given up on after the retry
window). Progress is one ``Delivery`` per subscriber and order, held by a lease while a relay
works on it and written with compare-and-set at the end of the run, at a failure and every
``mark_every`` events, so a crash between a send and its mark sends those events once more,
never skips one (at least once). A failing subscriber backs off on its own state and holds back
neither the other subscribers nor other orders.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from application.errors import Conflict, InfrastructureUnavailable, InvalidQuery, OrderNotFound
from application.policy import OrderRetryPolicy
from application.ports import (
    Clock,
    Delivery,
    DeliveryLog,
    EventOutbox,
    EventSubscriber,
    OrderRepository,
    Outcome,
    StaleDelivery,
)
from domain import Order, order_after

log = logging.getLogger(__name__)

#: How soon to look again at an order whose subscriber state another relay holds or changed.
_SOON = timedelta(seconds=1)


def _as_of(order: Order, sequence: int) -> Order:
    """The order as it stood after event ``sequence``; the order as it is now if its events do
    not rebuild it (an event kind ``order_after`` does not know yet): never a stuck relay."""
    try:
        return order_after(order, sequence)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning(
            "event %s:%d: order as of it not rebuilt (%s); sent as now", order.id, sequence, exc
        )
        return order


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    """Backoff of a failing subscriber (``backoff.max_attempts`` is not used: the window is),
    how long it is retried before the event is dead, and how long a relay holds a state."""

    backoff: OrderRetryPolicy = field(
        default_factory=lambda: OrderRetryPolicy(
            base=timedelta(seconds=1), cap=timedelta(hours=1), max_attempts=1
        )
    )
    give_up_after: timedelta = timedelta(days=3)
    lease: timedelta = timedelta(seconds=30)
    #: Progress is written after at most this many events of a run (and at its end, or at a
    #: failure): a relay that dies in between sends those again (at least once), never skips.
    mark_every: int = 10
    #: Orders (and delivery states) taken per pass.
    batch_size: int = 200


@dataclass(slots=True)
class RelayReport:
    """What one pass did, per subscriber: counts by outcome (``dead`` included)."""

    orders: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)

    def count(self, subscriber: str, outcome: str) -> None:
        self.outcomes[(subscriber, outcome)] += 1

    def total(self, outcome: str) -> int:
        return sum(n for (_, o), n in self.outcomes.items() if o == outcome)


class RelayEvents:
    """One pass: the orders with new events, then the subscriber states due for a retry."""

    def __init__(
        self,
        repository: OrderRepository,
        outbox: EventOutbox,
        deliveries: DeliveryLog,
        subscribers: Sequence[EventSubscriber],
        clock: Clock,
        *,
        policy: RelayPolicy,
        concurrency: int,
    ) -> None:
        self._repository = repository
        self._outbox = outbox
        self._deliveries = deliveries
        self._subscribers = {s.name: s for s in subscribers}
        self._clock = clock
        self._policy = policy
        self._limit = asyncio.Semaphore(max(1, concurrency))

    @property
    def subscribers(self) -> list[str]:
        return list(self._subscribers)

    async def execute(self) -> RelayReport:
        report = RelayReport()
        if not self._subscribers:
            return report
        now = self._clock.now()
        orders = await self._outbox.due(now, self._policy.batch_size)
        report.orders = len(orders)
        # Every due order's states in one read: a run's slot then holds only its lease and sends.
        known = {
            (d.subscriber, d.order_id): d
            for d in await self._deliveries.of_orders([o.id for o in orders])
        }
        await asyncio.gather(*(self._order(order, known, report) for order in orders))
        states = await self._deliveries.due(now, self._policy.batch_size)
        await asyncio.gather(*(self._retry(state, report) for state in states))
        return report

    async def _order(
        self, order: Order, known: dict[tuple[str, str], Delivery], report: RelayReport
    ) -> None:
        states = [known.get((n, order.id)) or Delivery(n, order.id) for n in self._subscribers]
        looks = await asyncio.gather(
            *(
                self._relay(subscriber, order, state, report)
                for subscriber, state in zip(self._subscribers.values(), states, strict=True)
            )
        )
        pending = [t for t in looks if t is not None]
        await self._outbox.settle(order.id, order.version, min(pending, default=None))

    async def _retry(self, state: Delivery, report: RelayReport) -> None:
        subscriber = self._subscribers.get(state.subscriber)
        if subscriber is None:
            return  # a subscriber no longer configured: its state waits for it
        async with self._limit:
            order = await self._repository.get(state.order_id)
        if order is not None:
            await self._relay(subscriber, order, state, report)

    async def _relay(
        self,
        subscriber: EventSubscriber,
        order: Order,
        state: Delivery,
        report: RelayReport,
    ) -> datetime | None:
        """Deliver what ``subscriber`` has not had of ``order``. Answers when the *order* must be
        looked at again (another relay holds the state), else None: a retry is due on the
        state itself."""
        try:
            return await self._deliver(subscriber, order, state, report)
        except StaleDelivery:
            return self._clock.now() + _SOON  # another relay or an operator moved it: look again
        except InfrastructureUnavailable as exc:
            log.warning("relay of %s to %s: %s", order.id, subscriber.name, exc)
            return self._clock.now() + _SOON

    async def _deliver(
        self,
        subscriber: EventSubscriber,
        order: Order,
        state: Delivery,
        report: RelayReport,
    ) -> datetime | None:
        # One of ``concurrency`` slots covers the lease and the sends; the state was read before
        # (with the pass's other orders': a stale one loses the lease's compare-and-set and the
        # order is looked at again), the closing mark and the order's settle are written after
        # the slot is free for the next run.
        async with self._limit:
            claimed = await self._claim(state, len(order.events))
            if not isinstance(claimed, Delivery):
                return claimed
            stored, current, closing = await self._run(subscriber, order, claimed, report)
        await self._mark(stored, current, **closing)
        return None

    async def _claim(self, state: Delivery, total: int) -> Delivery | datetime | None:
        """``state`` leased to this relay (a relay that dies holding it leaves it due at the
        lease's end); else when the order must be looked at again (another relay holds it), or
        None: nothing to do now (caught up, or backing off until the state's own due time)."""
        now = self._clock.now()
        if state.delivered >= total and state.due_at is None:
            return None
        if state.lease_until is not None and state.lease_until > now:
            return state.lease_until
        if state.due_at is not None and state.due_at > now and state.lease_until is None:
            return None
        if state.delivered >= total:
            # Due (a redelivery of events the order no longer has, or a lease run out).
            await self._put(state, due_at=None, lease_until=None)
            return None
        lease_until = now + self._policy.lease
        return await self._put(state, lease_until=lease_until, due_at=lease_until)

    async def _run(
        self, subscriber: EventSubscriber, order: Order, stored: Delivery, report: RelayReport
    ) -> tuple[Delivery, Delivery, dict[str, object]]:
        """Send ``order``'s events after ``stored.delivered``, in sequence, until the end or a
        failure; mark progress every ``mark_every`` events. Answers the closing mark for the
        caller to write: the stored state, the state reached and the changes (lease released;
        at a failure, the retry time)."""
        total = len(order.events)
        current, unmarked = stored, 0
        while current.delivered < total:
            event = order.events[current.delivered]
            attempt = await subscriber.deliver(event, _as_of(order, event.sequence))
            now = self._clock.now()
            done = {
                "delivered": event.sequence,
                "attempts": 0,
                "failing_since": None,
                "last_error": None,
            }
            if attempt.outcome is Outcome.DELIVERED:
                report.count(subscriber.name, "delivered")
                current = replace(current, **done)  # type: ignore[arg-type]
            elif attempt.outcome is Outcome.GONE:
                log.warning("event %s: %s answered 410 (gone); skipped", event.id, subscriber.name)
                report.count(subscriber.name, "gone")
                current = replace(current, gone=(*current.gone, event.sequence), **done)  # type: ignore[arg-type]
            else:
                report.count(subscriber.name, "failed")
                failing_since = current.failing_since or now
                if now - failing_since < self._policy.give_up_after:
                    attempts = current.attempts + 1
                    retry_at = now + self._policy.backoff.delay(attempts)
                    log.info(
                        "event %s: %s failed (attempt %d: %s); again at %s",
                        event.id,
                        subscriber.name,
                        attempts,
                        attempt.detail,
                        retry_at.isoformat(timespec="milliseconds"),
                    )
                    return (
                        stored,
                        current,
                        {
                            "attempts": attempts,
                            "failing_since": failing_since,
                            "last_error": attempt.detail[:500],
                            "due_at": retry_at,
                            "lease_until": None,
                        },
                    )
                log.error(
                    "event %s: %s failed for %s (%s); dead",
                    event.id,
                    subscriber.name,
                    now - failing_since,
                    attempt.detail,
                )
                report.count(subscriber.name, "dead")
                current = replace(current, dead=(*current.dead, event.sequence), **done)  # type: ignore[arg-type]
            unmarked += 1
            if unmarked >= self._policy.mark_every and current.delivered < total:
                stored = current = await self._mark(stored, current)
                unmarked = 0
        return stored, current, {"lease_until": None, "due_at": None}

    async def _mark(self, stored: Delivery, current: Delivery, **changes: object) -> Delivery:
        """Write ``current`` (plus ``changes``) over ``stored``, compare-and-set on its version."""
        changed = replace(current, updated_at=self._clock.now(), **changes)  # type: ignore[arg-type]
        return await self._deliveries.put(changed, expected_version=stored.version)

    async def _put(self, state: Delivery, **changes: object) -> Delivery:
        changed = replace(state, updated_at=self._clock.now(), **changes)  # type: ignore[arg-type]
        return await self._deliveries.put(changed, expected_version=state.version)


@dataclass(frozen=True, slots=True)
class OrderDeliveries:
    """An order and every subscriber's delivery state of it (a subscriber that never got
    anything has a fresh state)."""

    order: Order
    deliveries: list[Delivery]


class ReadDeliveries:
    """An operator's view: where each subscriber is in an order's events."""

    def __init__(
        self, repository: OrderRepository, deliveries: DeliveryLog, subscribers: Sequence[str]
    ) -> None:
        self._repository = repository
        self._deliveries = deliveries
        self._names = list(subscribers)

    async def execute(self, order_id: str) -> OrderDeliveries:
        order = await self._repository.get(order_id)
        if order is None:
            raise OrderNotFound("id", order_id)
        found = {d.subscriber: d for d in await self._deliveries.of_order(order_id)}
        for name in self._names:
            found.setdefault(name, Delivery(name, order_id))
        return OrderDeliveries(order, [found[name] for name in sorted(found)])


class RedeliverEvents:
    """An operator sends an order's events to subscribers again, from a sequence on."""

    #: Compare-and-set attempts against a relay writing the same state meanwhile.
    ATTEMPTS = 5

    def __init__(
        self,
        repository: OrderRepository,
        deliveries: DeliveryLog,
        subscribers: Sequence[str],
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._deliveries = deliveries
        self._names = list(subscribers)
        self._clock = clock

    async def execute(
        self, order_id: str, *, from_sequence: int = 1, subscriber: str | None = None
    ) -> OrderDeliveries:
        """Reset the state of ``subscriber`` (every configured one when None) to "done up to
        ``from_sequence`` - 1" and make it due now: the relay then sends every event from there
        on, in sequence. Raises ``OrderNotFound``; ``InvalidQuery`` naming ``from_sequence``
        or ``subscriber``; ``NoSubscribers`` when none is configured."""
        order = await self._repository.get(order_id)
        if order is None:
            raise OrderNotFound("id", order_id)
        if not 1 <= from_sequence <= len(order.events):
            raise InvalidQuery(
                "from_sequence",
                f"must be a sequence of the order's events (1..{len(order.events)})",
            )
        if subscriber is not None and subscriber not in self._names:
            raise InvalidQuery(
                "subscriber", f"must be one of the configured: {', '.join(self._names) or 'none'}"
            )
        names = self._names if subscriber is None else [subscriber]
        if not names:
            raise NoSubscribers()
        for name in names:
            await self._reset(order_id, name, from_sequence)
        found = [await self._deliveries.get(name, order_id) for name in names]
        return OrderDeliveries(order, [d for d in found if d is not None])

    async def _reset(self, order_id: str, subscriber: str, from_sequence: int) -> None:
        for attempt in range(self.ATTEMPTS):
            state = await self._deliveries.get(subscriber, order_id)
            state = state or Delivery(subscriber, order_id)
            now = self._clock.now()
            reset = replace(
                state,
                delivered=from_sequence - 1,
                attempts=0,
                failing_since=None,
                last_error=None,
                due_at=now,
                # A relay holding it loses its next compare-and-set and stops.
                lease_until=None,
                dead=tuple(s for s in state.dead if s < from_sequence),
                gone=tuple(s for s in state.gone if s < from_sequence),
                updated_at=now,
            )
            try:
                await self._deliveries.put(reset, expected_version=state.version)
                return
            except StaleDelivery:
                if attempt == self.ATTEMPTS - 1:
                    raise


class NoSubscribers(Conflict):
    """No subscriber is configured: there is nothing to deliver to."""

    def __init__(self) -> None:
        super().__init__("no event subscriber is configured (ORDER_EVENTS_WEBHOOK_URL is unset)")
