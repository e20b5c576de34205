"""Delivering an order's events: the outbox the relay reads, each subscriber's delivery state,
and the subscribers themselves (docs/events.md, ADR 0016)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from domain import Order, OrderEvent


def relay_cue(order: Order) -> datetime | None:
    """The ``relay_due_at`` a write of ``order`` stores: new events make the order due at once;
    otherwise the value read is carried (a save never hides undelivered events)."""
    return order.updated_at if order.new_events else order.relay_due_at


class EventOutbox(Protocol):
    """The orders whose stored events the relay has not looked at yet. A save that stores new
    events makes its order due (in the same write); the relay settles it once every subscriber
    had its turn."""

    async def due(self, now: datetime, limit: int) -> list[Order]:
        """Orders due at ``now`` (their ``relay_due_at`` passed), the longest-waiting first."""

    async def settle(self, order_id: str, version: int, next_look: datetime | None) -> bool:
        """Set the order's ``relay_due_at`` to ``next_look`` only if it is still at ``version``
        (compare-and-set; the version is not bumped, so no pipeline save is disturbed). False
        when the order moved meanwhile: it stays due."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One subscriber's progress through one order's events. ``delivered``: the highest
    sequence done with (acknowledged, or skipped as gone or dead); events are sent strictly in
    sequence, the next only after the previous one is done."""

    subscriber: str
    order_id: str
    delivered: int = 0
    #: Failed attempts at event ``delivered + 1`` so far, and when the first of them failed.
    attempts: int = 0
    failing_since: datetime | None = None
    last_error: str | None = None
    #: When the relay must look at this subscriber's state again (a retry, a redelivery, the end
    #: of a lease); None: nothing to do until the order stores a new event.
    due_at: datetime | None = None
    #: A relay holds this state until then (it is delivering); another relay keeps off.
    lease_until: datetime | None = None
    #: Sequences given up on after the retry window (dead) and refused with 410 (gone).
    dead: tuple[int, ...] = ()
    gone: tuple[int, ...] = ()
    #: Compare-and-set: every write is conditional on it and bumps it.
    version: int = 0
    updated_at: datetime | None = field(default=None, compare=False)


class StaleDelivery(Exception):
    """Another writer changed the delivery state since it was read (compare-and-set lost)."""

    def __init__(self, subscriber: str, order_id: str, version: int) -> None:
        super().__init__(f"delivery of {order_id} to {subscriber}: version {version} is stale")


class DeliveryLog(Protocol):
    """Every subscriber's delivery state per order, written durably with compare-and-set."""

    async def get(self, subscriber: str, order_id: str) -> Delivery | None:
        """The state, or None when nothing was ever delivered."""

    async def put(self, delivery: Delivery, *, expected_version: int) -> Delivery:
        """Store ``delivery`` if the stored version is ``expected_version`` (0: none stored);
        answers it with version ``expected_version + 1``, else raises ``StaleDelivery``."""

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        """States whose ``due_at`` passed, the longest-waiting first."""

    async def of_order(self, order_id: str) -> list[Delivery]:
        """Every subscriber's state for the order."""

    async def of_orders(self, order_ids: Sequence[str]) -> list[Delivery]:
        """Every subscriber's state for each of the orders, in one read (a relay pass)."""


class Outcome(StrEnum):
    DELIVERED = "delivered"
    #: The subscriber answered 410: it wants no more of this event; skipped, not retried.
    GONE = "gone"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt got."""

    outcome: Outcome
    detail: str = ""


class EventSubscriber(Protocol):
    """Somewhere an order's events go, one at a time, in sequence per order."""

    @property
    def name(self) -> str:
        """Stable across restarts: delivery state is kept under it."""

    async def deliver(self, event: OrderEvent, order: Order) -> Attempt:
        """Send ``event``, with ``order`` as it stood right after it. Never raises for a
        subscriber's failure: answers ``Outcome.FAILED`` with the reason."""
