"""The event relay on the in-memory stores: in sequence per order, at least once, backoff per
subscriber, 410 skipped, dead after the window, a crash between send and mark resends."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.fakes.clock import FakeClock
from adapters.memory import InMemoryDeliveryLog, InMemoryOrderRepository
from application.policy import OrderRetryPolicy
from application.ports import Attempt, Delivery, Outcome
from application.relay_events import RedeliverEvents, RelayEvents, RelayPolicy
from domain import Order, OrderEvent, Payment, TransferResult
from tests.support.jitter import FixedJitter
from tests.support.orders import order_request


class Recorder:
    """A subscriber that records what it got and answers from a script (then ``default``)."""

    def __init__(self, name: str, *script: Outcome, default: Outcome = Outcome.DELIVERED) -> None:
        self.name = name
        self.script = list(script)
        self.default = default
        self.got: list[tuple[str, str]] = []  # (event id, the order's status in data.order)

    async def deliver(self, event: OrderEvent, order: Order) -> Attempt:
        self.got.append((event.id, order.status.value))
        outcome = self.script.pop(0) if self.script else self.default
        return Attempt(outcome, "scripted")

    def ids(self) -> list[str]:
        return [i for i, _ in self.got]


class Killed(Exception):
    """The process died here."""


class CrashingLog(InMemoryDeliveryLog):
    """A delivery log whose next ``crash`` marks past ``after`` die (the process killed after
    the sends)."""

    crash = 0
    after = 0

    async def put(self, delivery: Delivery, *, expected_version: int) -> Delivery:
        if self.crash and delivery.delivered > self.after:
            self.crash -= 1
            raise Killed
        return await super().put(delivery, expected_version=expected_version)


POLICY = RelayPolicy(
    backoff=OrderRetryPolicy(
        base=timedelta(seconds=2), cap=timedelta(seconds=60), max_attempts=1, jitter=FixedJitter(1)
    ),
    give_up_after=timedelta(hours=1),
    lease=timedelta(seconds=30),
)


class Rig:
    def __init__(
        self,
        *subscribers: Recorder,
        log: InMemoryDeliveryLog | None = None,
        policy: RelayPolicy = POLICY,
    ) -> None:
        self.clock = FakeClock()
        self.repository = InMemoryOrderRepository()
        self.log = log or InMemoryDeliveryLog()
        self.relay = RelayEvents(
            self.repository,
            self.repository,
            self.log,
            subscribers,
            self.clock,
            policy=policy,
            concurrency=4,
        )

    async def order(self, reference_id: str = "ref-1", *, complete: bool = True) -> Order:
        payment = Payment(f"pay-{reference_id}", "tok", None, "pending", Decimal(13), "EUR")
        order = Order.place(order_request(reference_id), payment, at=self.clock.now())
        await self.repository.add(order)
        if complete:
            await self.advance(order)
        return order

    async def advance(self, order: Order) -> None:
        now = self.clock.now()
        order.mark_paid(now)
        order.start_step(order.next_step(), now)
        order.wallet_created("0xabc", now)
        order.tokens_sent(TransferResult("tr", "confirmed", "sig", Decimal(12)), now)
        await self.repository.save(order, expected_version=order.version)

    async def passes(self, n: int, *, every: float = 0.0) -> None:
        for _ in range(n):
            await self.relay.execute()
            self.clock.advance(every)


def ids(order: Order, *sequences: int) -> list[str]:
    return [f"{order.id}:{s}" for s in sequences]


async def test_every_event_goes_to_every_subscriber_once_in_sequence() -> None:
    a, b = Recorder("a"), Recorder("b")
    rig = Rig(a, b)
    order = await rig.order(complete=False)
    await rig.passes(2)
    assert a.ids() == b.ids() == ids(order, 1)
    await rig.advance(order)  # five more events: the order is due again
    await rig.passes(3)
    assert a.ids() == b.ids() == ids(order, 1, 2, 3, 4, 5, 6)
    # data.order is the order as it stood after each event, not as it is now.
    assert [s for _, s in a.got] == [
        "pending",
        "completed_pay",
        "creating_wallet",
        "sending_token_to_smartwallet",
        "completed",
        "completed",
    ]
    assert (await rig.repository.get(order.id)).relay_due_at is None  # type: ignore[union-attr]


async def test_a_failing_subscriber_backs_off_alone_and_resumes_in_sequence() -> None:
    a, b = Recorder("a", Outcome.DELIVERED, Outcome.FAILED, Outcome.FAILED), Recorder("b")
    rig = Rig(a, b)
    order = await rig.order()
    await rig.passes(1)
    assert b.ids() == ids(order, 1, 2, 3, 4, 5, 6)  # not held back by a
    assert a.ids() == ids(order, 1, 2)
    [state] = [d for d in await rig.log.of_order(order.id) if d.subscriber == "a"]
    assert (state.delivered, state.attempts) == (1, 1)
    assert state.due_at == rig.clock.now() + timedelta(seconds=2)  # base backoff, full jitter
    await rig.passes(1)  # not due yet
    assert a.ids() == ids(order, 1, 2)
    rig.clock.advance(2)
    await rig.passes(1)  # fails again: 4 s
    rig.clock.advance(4)
    await rig.passes(1)
    assert a.ids() == ids(order, 1, 2, 2, 2, 3, 4, 5, 6)


async def test_410_skips_the_event_and_a_window_without_success_makes_it_dead() -> None:
    gone = Recorder("gone", Outcome.GONE)
    dying = Recorder("dying", default=Outcome.FAILED)
    rig = Rig(gone, dying)
    order = await rig.order(complete=False)
    await rig.passes(1)
    assert gone.ids() == ids(order, 1)
    states = {d.subscriber: d for d in await rig.log.of_order(order.id)}
    assert states["gone"].gone == (1,)
    assert states["gone"].delivered == 1
    for _ in range(12):  # backoff capped at 60 s; the window is an hour
        rig.clock.advance(400)
        await rig.passes(1)
    states = {d.subscriber: d for d in await rig.log.of_order(order.id)}
    assert states["dying"].dead == (1,)
    assert states["dying"].delivered == 1
    assert states["dying"].due_at is None


async def test_a_crash_between_send_and_mark_sends_the_event_again() -> None:
    log = CrashingLog()
    a = Recorder("a")
    rig = Rig(a, log=log)
    order = await rig.order()
    log.crash = 1
    with pytest.raises(Killed):  # the run's mark, after its six sends
        await rig.passes(1)
    assert a.ids() == ids(order, 1, 2, 3, 4, 5, 6)
    await rig.passes(1)  # held by the dead relay's lease
    assert len(a.ids()) == 6
    rig.clock.advance(31)
    await rig.passes(2)
    assert a.ids() == ids(order, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6)


async def test_a_crash_resends_only_what_came_after_the_last_mark() -> None:
    log = CrashingLog()
    a = Recorder("a")
    rig = Rig(a, log=log, policy=replace(POLICY, mark_every=2))
    order = await rig.order()
    log.crash, log.after = 1, 2  # the mark at 2 is written; the one at 4 dies
    with pytest.raises(Killed):
        await rig.passes(1)
    rig.clock.advance(31)
    await rig.passes(2)
    assert a.ids() == ids(order, 1, 2, 3, 4, 3, 4, 5, 6)


async def test_an_operator_redelivers_from_a_sequence_on() -> None:
    a = Recorder("a")
    rig = Rig(a)
    order = await rig.order()
    await rig.passes(1)
    await RedeliverEvents(rig.repository, rig.log, ["a"], rig.clock).execute(
        order.id, from_sequence=4
    )
    await rig.passes(1)
    assert a.ids() == ids(order, 1, 2, 3, 4, 5, 6, 4, 5, 6)


async def test_two_relays_at_once_never_send_an_event_before_its_predecessor_is_done() -> None:
    a = Recorder("a")
    rig = Rig(a)
    other = RelayEvents(
        rig.repository, rig.repository, rig.log, [a], rig.clock, policy=POLICY, concurrency=4
    )
    orders = [await rig.order(f"ref-{i}") for i in range(5)]
    await asyncio.gather(rig.relay.execute(), other.execute())
    rig.clock.advance(1)
    await asyncio.gather(rig.relay.execute(), other.execute())
    for order in orders:
        mine = [int(i.rsplit(":", 1)[1]) for i in a.ids() if i.startswith(order.id)]
        firsts = list(dict.fromkeys(mine))
        assert firsts == [1, 2, 3, 4, 5, 6]


class InFlight:
    """How many sends are in flight, and the most there ever were."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0


class Slow(Recorder):
    """A subscriber that holds each send for a while, counted in a shared ``InFlight``."""

    def __init__(self, name: str, gauge: InFlight) -> None:
        super().__init__(name)
        self.gauge = gauge

    async def deliver(self, event: OrderEvent, order: Order) -> Attempt:
        self.gauge.now += 1
        self.gauge.most = max(self.gauge.most, self.gauge.now)
        await asyncio.sleep(0.001)
        self.gauge.now -= 1
        return await super().deliver(event, order)


async def test_concurrency_bounds_the_sends_in_flight_across_orders_and_subscribers() -> None:
    gauge = InFlight()
    a, b = Slow("a", gauge), Slow("b", gauge)
    rig = Rig(a, b)  # concurrency=4
    orders = [await rig.order(f"ref-{n}") for n in range(6)]
    await rig.passes(1)
    assert gauge.most == 4  # every slot used, never more
    for order in orders:  # each order still in sequence, to each subscriber
        expected = ids(order, *range(1, len(order.events) + 1))
        assert [i for i in a.ids() if i.startswith(order.id)] == expected
        assert [i for i in b.ids() if i.startswith(order.id)] == expected


class RacingLog(InMemoryDeliveryLog):
    """A delivery log where, once ``race`` is set, another writer changes every state right
    after the pass read it: the states the pass holds are stale."""

    race = False

    async def of_orders(self, order_ids: Sequence[str]) -> list[Delivery]:
        found = await super().of_orders(order_ids)
        if self.race:
            for state in found:
                await self.put(replace(state, last_error="moved"), expected_version=state.version)
        return found


async def test_a_state_changed_after_the_pass_read_it_is_sent_once_at_the_next_look() -> None:
    log = RacingLog()
    a = Recorder("a")
    rig = Rig(a, log=log)
    order = await rig.order(complete=False)
    await rig.passes(1)
    assert a.ids() == ids(order, 1)
    await rig.advance(order)
    log.race = True
    await rig.passes(1)  # its lease loses the compare-and-set: nothing sent, the order stays due
    assert a.ids() == ids(order, 1)
    stored = await rig.repository.get(order.id)
    assert stored is not None
    assert stored.relay_due_at == rig.clock.now() + timedelta(seconds=1)
    log.race = False
    rig.clock.advance(1)
    await rig.passes(1)
    assert a.ids() == ids(order, 1, 2, 3, 4, 5, 6)
