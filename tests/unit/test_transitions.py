"""Property tests of the transition table and of the moves that consult it."""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import (
    FAIL_STATUSES,
    TRANSITIONS,
    InvalidTransition,
    Order,
    OrderStatus,
    Passkey,
    Payment,
    Step,
    TransferResult,
    allowed_targets,
)
from tests.support.orders import order_request

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def reachable_from(start: OrderStatus) -> set[OrderStatus]:
    seen = {start}
    todo = deque([start])
    while todo:
        for target in TRANSITIONS[todo.popleft()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def make_order(*, wallet: str | None = None) -> Order:
    request = order_request(
        amount_token=Decimal("10"),
        min_amount_token_receive=Decimal("9.9"),
        price_tolerance_percent=Decimal("1"),
        price_fiat=Decimal("10.5"),
        passkey=Passkey("cred", "pk"),
        smart_wallet_address=wallet,
    )
    payment = Payment("pay_1", "tok_1", "http://x/checkout", "pending", Decimal("10.5"), "EUR")
    return Order.place(request, payment, at=T0)


def test_the_statuses_and_moves_are_exactly_the_original_schemas() -> None:
    assert {s.value for s in OrderStatus} == {
        "pending",
        "completed_pay",
        "failed_pay",
        "creating_wallet",
        "create_wallet_fail",
        "sending_token_to_smartwallet",
        "send_token_to_smartwallet_fail",
        "completed",
    }
    assert dict(TRANSITIONS) == {
        OrderStatus.PENDING: {OrderStatus.COMPLETED_PAY, OrderStatus.FAILED_PAY},
        OrderStatus.COMPLETED_PAY: {
            OrderStatus.CREATING_WALLET,
            OrderStatus.SENDING_TOKEN_TO_SMARTWALLET,
        },
        OrderStatus.CREATING_WALLET: {
            OrderStatus.SENDING_TOKEN_TO_SMARTWALLET,
            OrderStatus.CREATE_WALLET_FAIL,
        },
        OrderStatus.CREATE_WALLET_FAIL: {OrderStatus.CREATING_WALLET},
        OrderStatus.SENDING_TOKEN_TO_SMARTWALLET: {
            OrderStatus.COMPLETED,
            OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL,
        },
        OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL: {OrderStatus.SENDING_TOKEN_TO_SMARTWALLET},
        OrderStatus.FAILED_PAY: set(),
        OrderStatus.COMPLETED: set(),
    }


def test_every_status_is_reachable_from_pending() -> None:
    assert reachable_from(OrderStatus.PENDING) == set(OrderStatus)


def test_completed_and_failed_pay_are_the_only_terminal_statuses() -> None:
    assert {s for s in OrderStatus if not TRANSITIONS[s]} == {
        OrderStatus.COMPLETED,
        OrderStatus.FAILED_PAY,
    }


@pytest.mark.parametrize(
    ("fail", "step"),
    [
        (OrderStatus.CREATE_WALLET_FAIL, OrderStatus.CREATING_WALLET),
        (OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET),
    ],
)
def test_every_fail_status_leads_back_to_its_step_and_nowhere_else(
    fail: OrderStatus, step: OrderStatus
) -> None:
    assert TRANSITIONS[fail] == {step}
    assert fail in TRANSITIONS[step]


def test_every_non_terminal_status_can_still_complete() -> None:
    for status in OrderStatus:
        if TRANSITIONS[status]:
            assert OrderStatus.COMPLETED in reachable_from(status), status


@given(st.sampled_from(list(OrderStatus)), st.booleans())
def test_the_wallet_guard_only_narrows_the_table(status: OrderStatus, has_wallet: bool) -> None:
    allowed = allowed_targets(status, has_wallet=has_wallet)
    assert allowed <= TRANSITIONS[status]
    if status is OrderStatus.COMPLETED_PAY:
        expected = (
            OrderStatus.SENDING_TOKEN_TO_SMARTWALLET if has_wallet else OrderStatus.CREATING_WALLET
        )
        assert allowed == {expected}


# Every public move, as (name, callable) taking an order and a time.
MOVES = {
    "mark_paid": lambda o, at: o.mark_paid(at),
    "mark_payment_failed": lambda o, at: o.mark_payment_failed(at, "declined"),
    "start_create_wallet": lambda o, at: o.start_step(Step.CREATE_WALLET, at),
    "start_send_token": lambda o, at: o.start_step(Step.SEND_TOKEN, at),
    "wallet_created": lambda o, at: o.wallet_created("0xabc", at),
    "step_failed_retry": lambda o, at: o.step_failed(at, "boom", retry_at=at),
    "step_failed_park": lambda o, at: o.step_failed(at, "boom", retry_at=None),
    "tokens_sent": lambda o, at: o.tokens_sent(
        TransferResult("tr_1", "confirmed", "sig", Decimal("10")), at
    ),
}


@given(
    st.lists(st.sampled_from(sorted(MOVES)), max_size=25),
    st.booleans(),
)
def test_no_move_outside_the_table_is_ever_accepted(moves: list[str], wallet: bool) -> None:
    order = make_order(wallet="0xbuyer" if wallet else None)
    at = T0
    for name in moves:
        before = order.status
        had_wallet = order.smart_wallet_address is not None
        at += timedelta(seconds=1)
        try:
            MOVES[name](order, at)
        except InvalidTransition:
            assert order.status is before  # a refused move changes nothing
            continue
        if order.status is not before:
            assert order.status in allowed_targets(before, has_wallet=had_wallet), (before, name)
    # The history replays through the table, too.
    statuses = [change.status for change in order.history]
    for a, b in itertools.pairwise(statuses):
        assert a == b or b in TRANSITIONS[a], (a, b)


def test_a_refused_move_names_the_order_and_both_statuses() -> None:
    order = make_order()
    with pytest.raises(InvalidTransition) as caught:
        order.tokens_sent(TransferResult("tr", "confirmed", None, None), T0)
    assert order.id in str(caught.value)
    assert "pending" in str(caught.value)


def test_completed_pay_with_a_wallet_cannot_create_another() -> None:
    order = make_order(wallet="0xbuyer")
    order.mark_paid(T0)
    with pytest.raises(InvalidTransition, match="wallet guard"):
        order.start_step(Step.CREATE_WALLET, T0)
    assert order.next_step() is Step.SEND_TOKEN


def test_a_step_that_fails_for_good_parks_the_order_and_unpark_restores_the_budget() -> None:
    order = make_order()
    order.mark_paid(T0)
    order.start_step(Step.CREATE_WALLET, T0)
    order.step_failed(T0, "wallet service said no", retry_at=None)
    assert order.status in FAIL_STATUSES
    assert order.parked
    assert order.parked_reason == "wallet service said no"
    order.unpark(T0 + timedelta(minutes=1))
    assert not order.parked
    assert order.attempts_of(Step.CREATE_WALLET) == 0
    assert order.next_attempt_at == T0 + timedelta(minutes=1)


def test_idempotency_keys_are_derived_from_the_order() -> None:
    order = make_order()
    assert order.idempotency_key(Step.CREATE_WALLET) == f"{order.id}:create_wallet"
    assert order.idempotency_key(Step.SEND_TOKEN) == f"{order.id}:send_token"
    assert make_order().id == order.id  # the id is a function of the reference id


@pytest.mark.parametrize("status", sorted(set(OrderStatus) - FAIL_STATUSES))
def test_only_a_failed_step_can_be_parked(status: OrderStatus) -> None:
    order = make_order()
    order.status = status  # put it there directly: parking is what is under test
    with pytest.raises(InvalidTransition, match="only a failed step parks"):
        order.park(T0, "no")
    assert not order.parked
