"""The ``OrderRepository`` contract: in-memory, Mongo on PyMongo Async, Mongo on Motor."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest

from application.errors import DuplicateOrder, StaleOrder
from application.ports import OrderRepository
from domain import (
    Order,
    OrderStatus,
    RefundCause,
    RefundStatus,
    Step,
    TransferResult,
    replay_history,
)
from tests.contract.orders import (
    at,
    completed,
    creating_wallet,
    new_order,
    paid,
    sending,
    snapshot,
    wallet_failed,
)


async def test_an_added_order_reads_back_whole_by_each_key(repository: OrderRepository) -> None:
    order = new_order(1)
    await repository.add(order)

    by_id = await repository.get(order.id)
    by_reference = await repository.get_by_reference_id("ref-1")
    by_payment = await repository.get_by_payment_id("pay-1")

    assert by_id is not None
    assert snapshot(by_id) == snapshot(order)
    assert by_reference is not None
    assert by_reference.id == order.id
    assert by_payment is not None
    assert by_payment.id == order.id


async def test_the_return_url_reads_back_as_part_of_the_request(
    repository: OrderRepository,
) -> None:
    order = new_order(1)
    order.request = dataclasses.replace(order.request, return_url="http://127.0.0.1:8010/shop?x=1")
    await repository.add(order)

    found = await repository.get(order.id)

    assert found is not None
    assert found.request.return_url == "http://127.0.0.1:8010/shop?x=1"
    assert found.request == order.request


async def test_a_crypto_payment_reads_back_with_what_the_buyer_must_send(
    repository: OrderRepository,
) -> None:
    order = new_order(1)
    order.payment = dataclasses.replace(
        order.payment,
        token="",
        checkout_url=None,
        expires_at=None,
        pay_address="8uK4wW3tBzvJ6Lk2cYqJ7m2w9a9R5JxQ1Yd3pVbNn4Ew",
        pay_amount=Decimal("0.000290000"),
        pay_currency="sol",
    )
    await repository.add(order)

    found = await repository.get_by_payment_id("pay-1")

    assert found is not None
    assert found.payment == order.payment
    assert found.payment.pay_amount is not None
    assert found.payment.pay_amount.as_tuple() == Decimal("0.000290000").as_tuple()
    found.record_payment_status("completed")
    assert found.payment.pay_address == order.payment.pay_address


async def test_an_underpayment_is_saved_with_the_order_and_its_event(
    repository: OrderRepository,
) -> None:
    order = new_order(1)
    order.payment = dataclasses.replace(
        order.payment, pay_address="addr", pay_amount=Decimal("0.0877"), pay_currency="sol"
    )
    await repository.add(order)
    order.record_underpayment(Decimal("0.040000000"), "sol", Decimal("0.0877"), at(5))
    await repository.save(order, expected_version=order.version)

    found = await repository.get(order.id)

    assert found is not None
    assert found.payment == order.payment
    assert found.payment.paid_amount is not None
    assert found.payment.paid_amount.as_tuple() == Decimal("0.040000000").as_tuple()
    assert found.payment.paid_currency == "sol"
    assert found.history == order.history
    assert found.events == order.events


async def test_unknown_keys_read_none(repository: OrderRepository) -> None:
    await repository.add(new_order(1))

    assert await repository.get("no-such-order") is None
    assert await repository.get_by_reference_id("ref-2") is None
    assert await repository.get_by_payment_id("pay-2") is None


async def test_a_read_is_a_copy_not_the_stored_order(repository: OrderRepository) -> None:
    order = new_order(1)
    await repository.add(order)
    order.mark_paid(at(1))  # changing the caller's object stores nothing

    stored = await repository.get(order.id)
    assert stored is not None
    assert stored.status is OrderStatus.PENDING


async def test_a_second_order_with_the_same_reference_id_is_a_duplicate(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))
    twin = new_order(2, order_id="other-id", reference_id="ref-1", payment_id="pay-2")

    with pytest.raises(DuplicateOrder) as raised:
        await repository.add(twin)

    assert raised.value.key == "reference_id"
    assert raised.value.value == "ref-1"
    assert await repository.get("other-id") is None
    assert await repository.get_by_payment_id("pay-2") is None


async def test_a_second_order_with_the_same_payment_id_is_a_duplicate(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))

    with pytest.raises(DuplicateOrder) as raised:
        await repository.add(new_order(2, payment_id="pay-1"))

    assert raised.value.key == "payment.id"
    assert raised.value.value == "pay-1"
    assert await repository.get_by_reference_id("ref-2") is None


async def test_adding_the_same_order_twice_is_a_duplicate(repository: OrderRepository) -> None:
    order = new_order(1)
    await repository.add(order)

    with pytest.raises(DuplicateOrder):
        await repository.add(new_order(1))


async def test_save_with_the_read_version_writes_and_bumps_the_version(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))
    order = await repository.get_by_reference_id("ref-1")
    assert order is not None
    assert order.version == 0

    creating_wallet(order, 5)
    await repository.save(order, expected_version=0)

    assert order.version == 1
    stored = await repository.get(order.id)
    assert stored is not None
    assert stored.version == 1
    assert snapshot(stored) == snapshot(order)


async def test_save_with_a_stale_version_fails_and_writes_nothing(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))
    first = await repository.get_by_reference_id("ref-1")
    assert first is not None
    paid(first, 1)
    await repository.save(first, expected_version=0)

    late = await repository.get_by_reference_id("ref-1")
    assert late is not None
    late.start_step(Step.CREATE_WALLET, at(2))  # any move, made on a stale read
    with pytest.raises(StaleOrder) as raised:
        await repository.save(late, expected_version=0)

    assert raised.value.expected_version == 0
    assert late.version == 1  # the version it was read at; the failed save did not bump it
    stored = await repository.get(first.id)
    assert stored is not None
    assert snapshot(stored) == snapshot(first)


async def test_of_two_concurrent_saves_from_the_same_read_exactly_one_wins(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))
    one = await repository.get_by_reference_id("ref-1")
    other = await repository.get_by_reference_id("ref-1")
    assert one is not None
    assert other is not None
    paid(one, 1)
    other.mark_payment_failed(at(1), "expired")

    results = await asyncio.gather(
        repository.save(one, expected_version=0),
        repository.save(other, expected_version=0),
        return_exceptions=True,
    )

    assert sorted(type(r).__name__ for r in results) == ["NoneType", "StaleOrder"]
    winner = one if results[0] is None else other
    stored = await repository.get(one.id)
    assert stored is not None
    assert stored.version == 1
    assert snapshot(stored) == snapshot(winner)


async def test_saving_an_order_never_added_is_stale(repository: OrderRepository) -> None:
    with pytest.raises(StaleOrder):
        await repository.save(new_order(1), expected_version=0)
    assert await repository.get_by_reference_id("ref-1") is None


async def test_save_refuses_to_change_the_reference_id(repository: OrderRepository) -> None:
    order = new_order(1)
    await repository.add(order)
    order.request = dataclasses.replace(order.request, reference_id="ref-changed")

    with pytest.raises(ValueError, match="never change"):
        await repository.save(order, expected_version=0)

    assert await repository.get_by_reference_id("ref-changed") is None
    assert await repository.get_by_reference_id("ref-1") is not None


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("0.000000000000000001"),
        Decimal("123456789012.123456789012345678"),
        Decimal("999999999999999.999999999999999999"),
        Decimal("1.500000000000000000"),
    ],
)
async def test_money_reads_back_exactly_digit_for_digit(
    repository: OrderRepository, amount: Decimal
) -> None:
    order = completed(new_order(1, amount=amount), 10, amount_out=amount)
    await repository.add(order)

    stored = await repository.get(order.id)

    assert stored is not None
    assert stored.amount_token.as_tuple() == amount.as_tuple()
    assert stored.min_amount_token_receive.as_tuple() == amount.as_tuple()
    assert stored.transfer is not None
    assert stored.transfer.amount_out is not None
    assert stored.transfer.amount_out.as_tuple() == amount.as_tuple()
    assert stored.price_fiat.as_tuple() == Decimal("10.5000").as_tuple()
    assert stored.payment.amount.as_tuple() == Decimal("10.5000").as_tuple()


async def test_history_attempts_wallet_and_transfer_survive_each_save(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))
    order = await repository.get_by_reference_id("ref-1")
    assert order is not None

    steps: list[Callable[[Order], object]] = [
        lambda o: creating_wallet(o, 1),
        lambda o: o.step_failed(at(2), "wallet: timeout", retry_at=at(7)),
        lambda o: o.start_step(Step.CREATE_WALLET, at(8)),
        lambda o: o.wallet_created("0xabc", at(9)),
        lambda o: o.transfer_submitted(TransferResult("tr-9", "submitted", None, None)),
        lambda o: o.tokens_sent(
            TransferResult("tr-9", "confirmed", "sig", Decimal("12.4999")), at(12)
        ),
    ]
    for step in steps:
        step(order)
        await repository.save(order, expected_version=order.version)
        stored = await repository.get(order.id)
        assert stored is not None
        assert snapshot(stored) == snapshot(order)

    assert order.version == len(steps)
    assert order.attempts == {Step.CREATE_WALLET: 2, Step.SEND_TOKEN: 1}
    assert [c.status for c in order.history][-1] is OrderStatus.COMPLETED


async def test_a_parked_order_reads_back_parked_and_unparks(repository: OrderRepository) -> None:
    order = wallet_failed(new_order(1), 1, retry_in=None)
    await repository.add(order)
    stored = await repository.get(order.id)
    assert stored is not None
    assert stored.parked
    assert stored.parked_reason == "wallet service: 503"
    assert stored.next_attempt_at is None

    stored.unpark(at(100))
    await repository.save(stored, expected_version=0)

    again = await repository.get(order.id)
    assert again is not None
    assert snapshot(again) == snapshot(stored)


async def _ids(orders: object) -> list[str]:
    assert isinstance(orders, list)
    return [o.id for o in orders]


async def test_due_for_retry_selects_failed_unparked_orders_whose_time_has_come(
    repository: OrderRepository,
) -> None:
    due_early = wallet_failed(new_order(1), 10, retry_in=5)  # due at 15
    due_late = wallet_failed(new_order(2), 20, retry_in=5)  # due at 25
    not_yet = wallet_failed(new_order(3), 30, retry_in=60)  # due at 90
    parked = wallet_failed(new_order(4), 5, retry_in=None)
    for order in (
        due_late,
        due_early,
        not_yet,
        parked,
        new_order(5),
        creating_wallet(new_order(6), 1),
        completed(new_order(7), 1),
    ):
        await repository.add(order)

    found = await repository.due_for_retry(at(30), 10)
    assert await _ids(found) == [due_early.id, due_late.id]  # oldest update first
    assert await _ids(await repository.due_for_retry(at(30), 1)) == [due_early.id]
    assert await _ids(await repository.due_for_retry(at(25), 10)) == [due_early.id, due_late.id]
    assert await _ids(await repository.due_for_retry(at(24.999), 10)) == [due_early.id]
    assert await repository.due_for_retry(at(30), 0) == []
    assert snapshot(found[0]) == snapshot(due_early)


async def test_pending_payments_selects_pending_orders_untouched_since_the_cutoff(
    repository: OrderRepository,
) -> None:
    old = new_order(1, seconds=0)
    older = new_order(2, seconds=-10)
    fresh = new_order(3, seconds=100)
    for order in (old, fresh, older, paid(new_order(4), 0), wallet_failed(new_order(5), 0, 1)):
        await repository.add(order)

    assert await _ids(await repository.pending_payments(at(50), 10)) == [older.id, old.id]
    assert await _ids(await repository.pending_payments(at(0), 10)) == [older.id, old.id]
    assert await _ids(await repository.pending_payments(at(50), 1)) == [older.id]
    assert await _ids(await repository.pending_payments(at(-11), 10)) == []


async def test_stuck_selects_paid_orders_left_mid_pipeline_before_the_cutoff(
    repository: OrderRepository,
) -> None:
    just_paid = paid(new_order(1), 10)
    in_wallet = creating_wallet(new_order(2), 20)
    in_transfer = sending(new_order(3), 30)
    recent = sending(new_order(4), 500)
    parked_mid_step = creating_wallet(new_order(6), 5)
    # The domain parks only failed steps; a stored document may still carry the flag mid-step
    # (written before that rule, or by hand), and the sweep must not resume it either.
    parked_mid_step.parked = True
    for order in (
        in_transfer,
        just_paid,
        in_wallet,
        recent,
        new_order(5, seconds=0),
        parked_mid_step,
        wallet_failed(new_order(7), 0, retry_in=1),
        completed(new_order(8), 0),
    ):
        await repository.add(order)

    expected = [just_paid.id, in_wallet.id, in_transfer.id]
    assert await _ids(await repository.stuck(at(100), 10)) == expected
    assert await _ids(await repository.stuck(at(100), 2)) == expected[:2]
    assert await _ids(await repository.stuck(at(20), 10)) == expected[:2]


async def test_ping_answers_when_the_store_is_up(repository: OrderRepository) -> None:
    await repository.ping()


# --- the outbox: events stored with the state change that caused them (ADR 0013) ---


async def test_events_read_back_whole_with_the_order_after_add_and_each_save(
    repository: OrderRepository,
) -> None:
    order = new_order(1)
    await repository.add(order)
    assert order.new_events == []
    paid(order, 1)
    order.start_step(Step.CREATE_WALLET, at(2))
    order.step_failed(at(3), "wallet service: 503", retry_at=at(9.5))
    await repository.save(order, expected_version=0)
    order.start_step(Step.CREATE_WALLET, at(10))
    order.wallet_created("0xwallet", at(11))
    order.tokens_sent(TransferResult("tr-1", "confirmed", "sig-1", Decimal("12.49")), at(12))
    await repository.save(order, expected_version=1)

    found = await repository.get(order.id)

    assert found is not None
    assert found.events == order.events
    assert [e.sequence for e in found.events] == list(range(1, 9))
    assert found.events[3].data["retry_at"] == at(9.5).isoformat(timespec="milliseconds")
    assert found.new_events == []  # everything read is stored
    assert replay_history(found.events) == found.history


async def test_a_save_that_loses_its_compare_and_set_stores_none_of_its_events(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))
    first = await repository.get(new_order(1).id)
    second = await repository.get(new_order(1).id)
    assert first is not None
    assert second is not None
    creating_wallet(first, 1)
    await repository.save(first, expected_version=0)
    paid(second, 2)
    assert [e.sequence for e in second.new_events] == [2]

    with pytest.raises(StaleOrder):
        await repository.save(second, expected_version=0)

    assert [e.sequence for e in second.new_events] == [2]  # still not stored
    stored = await repository.get(first.id)
    assert stored is not None
    assert stored.events == first.events  # the winner's 2 and 3, none of the loser's
    assert [e.type.value for e in stored.events] == [
        "order.created",
        "order.paid",
        "order.step_started",
    ]
    assert stored.events[1].at == at(1)


async def test_an_order_read_then_saved_appends_after_its_stored_events(
    repository: OrderRepository,
) -> None:
    await repository.add(new_order(1))
    read = await repository.get(new_order(1).id)
    assert read is not None
    paid(read, 1)
    await repository.save(read, expected_version=0)
    again = await repository.get(read.id)
    assert again is not None
    again.start_step(Step.CREATE_WALLET, at(2))
    assert [e.sequence for e in again.new_events] == [3]
    await repository.save(again, expected_version=1)

    final = await repository.get(read.id)
    assert final is not None
    assert [e.id for e in final.events] == [f"{read.id}:{n}" for n in (1, 2, 3)]


async def test_a_refund_reads_back_exactly_and_is_selected_when_due(
    repository: OrderRepository,
) -> None:
    """The refund's amount keeps every digit (Decimal128), its times and its place in the
    sweeps: due when open, never retried as a step, gone from the sweep when final."""
    late = new_order(1)
    late.mark_payment_failed(at(1), "expired")
    late.request_refund(
        RefundCause.LATE_PAYMENT, Decimal("13.100000001"), "EUR", "paid late", at(10)
    )
    parked = wallet_failed(new_order(2), 5, retry_in=None)
    parked.request_refund(RefundCause.OPERATOR, Decimal("13.10"), "EUR", "buyer asked", at(20))
    parked.send_generation = 3
    for order in (late, parked, wallet_failed(new_order(3), 5, retry_in=1)):
        await repository.add(order)

    stored = await repository.get(late.id)
    assert stored is not None
    assert snapshot(stored) == snapshot(late)
    assert stored.refund == late.refund
    again = await repository.get(parked.id)
    assert again is not None
    assert again.send_generation == 3
    assert again.refund == parked.refund
    assert await _ids(await repository.refunds_due(at(30), 10)) == [late.id, parked.id]
    assert await _ids(await repository.refunds_due(at(15), 10)) == [late.id]
    # A refunded order is never a step to retry, parked or not.
    assert parked.id not in await _ids(await repository.due_for_retry(at(100), 10))

    stored.refund_answered("rf_1", RefundStatus.SUCCEEDED, None, at(40), recheck_at=None)
    await repository.save(stored, expected_version=stored.version)
    assert await _ids(await repository.refunds_due(at(100), 10)) == [parked.id]
    final = await repository.get(late.id)
    assert final is not None
    assert final.refund == stored.refund
    assert replay_history(final.events) == final.history
