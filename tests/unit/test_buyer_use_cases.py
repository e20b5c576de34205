"""The buyers' use-cases on fakes: a create belongs to its caller, a replay by anyone else is
refused; reads see only the caller's orders; a cancel saves its intent first, lets the gateway
decide a race with the payment, and leaves exactly one outcome."""

from __future__ import annotations

import time

import pytest

from adapters.fakes import Fault
from adapters.http.buyer_tokens import LEEWAY_SECONDS, BuyerTokens, InvalidToken, TokenRules
from application.buyers import Caller, client_secret_hash
from application.cancel_order import CancelOrder
from application.errors import (
    DownstreamTimeout,
    NotCancellable,
    OrderNotFound,
    ReferenceTaken,
)
from application.read_own_order import ReadOwnOrder
from domain import CANCELLED_BY_BUYER, Order, OrderStatus, order_id_for
from testkit.pipeline import InProcessPipeline as World
from tests.support.buyers import AUDIENCE, ISSUER, SECRET, buyer_token
from tests.support.orders import order_request as make_request

ALICE = Caller(buyer_id="alice")
BOB = Caller(buyer_id="bob")
GUEST = Caller()


def _cancel(world: World) -> CancelOrder:
    return CancelOrder(world.repository, world.gateway, world.scheduler, world.clock)


async def _stored(world: World, order_id: str) -> Order:
    order = await world.repository.get(order_id)
    assert order is not None
    return order


async def test_a_create_belongs_to_its_caller_and_only_they_replay_it(world: World) -> None:
    made = await world.create_order.execute(make_request(), ALICE)

    assert made.order.buyer_id == "alice"
    assert made.client_secret is None
    assert (await world.create_order.execute(make_request(), ALICE)).replayed
    with pytest.raises(ReferenceTaken):
        await world.create_order.execute(make_request(), BOB)
    with pytest.raises(ReferenceTaken):
        await world.create_order.execute(make_request(), GUEST)
    assert world.gateway.create_calls == 1


async def test_a_guest_gets_a_secret_once_and_the_store_keeps_its_digest(world: World) -> None:
    made = await world.create_order.execute(make_request(), GUEST)

    assert made.client_secret is not None
    stored = await _stored(world, made.order.id)
    assert stored.buyer_id is None
    assert stored.client_secret_hash == client_secret_hash(made.client_secret)
    replay = await world.create_order.execute(
        make_request(), Caller(client_secret=made.client_secret)
    )
    assert replay.replayed
    assert replay.client_secret is None


async def test_reads_answer_only_the_callers_orders(world: World) -> None:
    alices = (await world.create_order.execute(make_request("a-1"), ALICE)).order
    guests = await world.create_order.execute(make_request("g-1"), GUEST)
    read = ReadOwnOrder(world.repository)

    assert (await read.by_id(alices.id, ALICE)).id == alices.id
    assert (await read.by_reference_id("a-1", ALICE)).id == alices.id
    assert guests.client_secret is not None
    assert (await read.by_id(guests.order.id, Caller(client_secret=guests.client_secret))).id
    for order_id, caller in (
        (alices.id, BOB),
        (alices.id, GUEST),
        (alices.id, Caller(client_secret=guests.client_secret)),
        (guests.order.id, ALICE),
        (guests.order.id, Caller(client_secret="cs_wrong")),
    ):
        with pytest.raises(OrderNotFound):
            await read.by_id(order_id, caller)
        with pytest.raises(OrderNotFound):
            await read.events_of(order_id, caller)


async def test_an_order_placed_by_the_service_itself_is_nobodys(world: World) -> None:
    order = (await world.create_order.execute(make_request())).order  # the simulator's way

    assert order.buyer_id is None
    assert order.client_secret_hash is None
    with pytest.raises(OrderNotFound):
        await ReadOwnOrder(world.repository).by_id(order.id, GUEST)


async def test_order_ids_are_keyed(world: World) -> None:
    keyed = type(world.create_order)(
        world.repository, world.gateway, world.clock, order_id_key=b"k" * 32
    )
    order = (await keyed.execute(make_request("keyed"), ALICE)).order

    assert order.id == order_id_for("keyed", b"k" * 32) != order_id_for("keyed")
    [stored] = [p for p in world.gateway.payments.values() if p.request.reference_id == "keyed"]
    assert stored.request.order_id == order.id


async def test_a_cancel_saves_its_intent_cancels_at_the_gateway_then_fails_the_order(
    world: World,
) -> None:
    order = (await world.create_order.execute(make_request(), ALICE)).order

    cancelled = await _cancel(world).execute(order.id, ALICE)

    assert cancelled.status is OrderStatus.FAILED_PAY
    assert cancelled.history[-1].reason == CANCELLED_BY_BUYER
    assert cancelled.payment.status == "cancelled"
    stored = await _stored(world, order.id)
    assert stored.cancel_requested_at is not None
    assert stored.version == 2  # the intent, then the outcome: two compare-and-set saves
    assert world.gateway.payments[order.payment.id].status.value == "cancelled"
    assert [e.type.value for e in stored.events][-1] == "order.payment_failed"


async def test_a_payment_completed_first_is_not_cancelled_and_the_order_goes_on(
    world: World,
) -> None:
    order = (await world.create_order.execute(make_request(), ALICE)).order
    world.gateway.complete(order.payment.id)

    with pytest.raises(NotCancellable) as caught:
        await _cancel(world).execute(order.id, ALICE)

    assert "completed" in str(caught.value)
    assert world.scheduler.calls[-1] == (order.id, None)
    await world.advance.execute(order.id)
    done = await _stored(world, order.id)
    assert done.status is OrderStatus.COMPLETED
    assert len(world.transfers.transfers) == 1


async def test_the_pipeline_seeing_the_cancel_first_writes_the_same_outcome(world: World) -> None:
    """The cancel crashed after the gateway cancelled, before its own save: the next check of the
    payment (a webhook, the poller) fails the order for the same reason; a retried cancel finds
    it failed."""
    order = (await world.create_order.execute(make_request(), ALICE)).order
    world.gateway.faults.script("cancel_payment", Fault.CRASH_AFTER_EFFECT)

    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the crash raises
        await _cancel(world).execute(order.id, ALICE)
    assert (await _stored(world, order.id)).cancel_requested_at is not None
    await world.advance.execute(order.id)

    stored = await _stored(world, order.id)
    assert stored.status is OrderStatus.FAILED_PAY
    assert stored.history[-1].reason == CANCELLED_BY_BUYER
    with pytest.raises(NotCancellable):
        await _cancel(world).execute(order.id, ALICE)
    assert [h.status for h in stored.history].count(OrderStatus.FAILED_PAY) == 1


async def test_a_gateway_timeout_leaves_the_order_pending_with_its_intent_and_a_retry_works(
    world: World,
) -> None:
    order = (await world.create_order.execute(make_request(), ALICE)).order
    world.gateway.faults.script("cancel_payment", Fault.TIMEOUT)

    with pytest.raises(DownstreamTimeout):
        await _cancel(world).execute(order.id, ALICE)
    pending = await _stored(world, order.id)
    assert pending.status is OrderStatus.PENDING
    assert pending.cancel_requested_at is not None

    cancelled = await _cancel(world).execute(order.id, ALICE)
    assert cancelled.status is OrderStatus.FAILED_PAY
    assert cancelled.version == 2  # the intent was not saved twice


async def test_only_a_pending_order_of_the_caller_is_cancelled(world: World) -> None:
    order = (await world.create_order.execute(make_request(), ALICE)).order

    with pytest.raises(OrderNotFound):
        await _cancel(world).execute(order.id, BOB)
    world.gateway.complete(order.payment.id)
    await world.advance.execute(order.id)
    with pytest.raises(NotCancellable) as caught:
        await _cancel(world).execute(order.id, ALICE)

    assert caught.value.status == "completed"
    assert world.gateway.cancel_calls == 0


async def test_a_verified_token_is_remembered_only_inside_its_validity_window() -> None:
    clock = [time.time()]
    tokens = BuyerTokens(TokenRules(ISSUER, AUDIENCE), secret=SECRET, now=lambda: clock[0])
    token = buyer_token("alice", exp=int(clock[0]) + 600, nbf=int(clock[0]) - 10)

    assert await tokens.buyer_id(token) == "alice"
    assert await tokens.buyer_id(token) == "alice"
    assert tokens.verifications == 1  # the second answer came from memory
    # Past exp and its leeway (by this clock), memory no longer answers: the token is checked
    # again (PyJWT, on the real clock, still finds it valid here).
    clock[0] += 600 + LEEWAY_SECONDS + 1
    assert await tokens.buyer_id(token) == "alice"
    assert tokens.verifications == 2
    # Before nbf and its leeway, the same.
    clock[0] = time.time() - 10 - LEEWAY_SECONDS - 1
    assert await tokens.buyer_id(token) == "alice"
    assert tokens.verifications == 3
    # A forged token is never remembered, whatever came before.
    with pytest.raises(InvalidToken):
        await tokens.buyer_id(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
