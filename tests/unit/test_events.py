"""Domain events: what the aggregate records at each move, and how the use-cases collect them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.fakes import FakeWalletService, Fault
from application.advance_order import AdvanceOrder
from application.errors import StaleOrder
from application.ports import Wallet
from domain import (
    EventType,
    InvalidTransition,
    Order,
    OrderStatus,
    Payment,
    Step,
    TransferResult,
    replay_history,
)
from testkit.pipeline import InProcessPipeline
from tests.support.orders import order_request

E = EventType
T0 = datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)  # the clock's precision: milliseconds


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def placed(when: datetime = T0, **overrides: object) -> Order:
    payment = Payment("pay-1", "tok", "https://pay/1", "pending", Decimal("13.10"), "EUR")
    return Order.place(order_request(**overrides), payment, at=when)  # type: ignore[arg-type]


def confirmed() -> TransferResult:
    return TransferResult("tr-1", "confirmed", "sig-1", Decimal("12.45"))


def types(order: Order) -> list[str]:
    return [e.type.value for e in order.events]


def test_a_new_order_records_order_created_as_event_1() -> None:
    order = placed(T0.replace(microsecond=123456))

    [created] = order.events
    assert created.type is E.CREATED
    assert created.sequence == 1
    assert created.id == f"{order.id}:1"
    assert created.order_id == order.id
    assert created.at == datetime(2026, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)  # milliseconds
    assert created.data == {"status": "pending", "reference_id": "ref-1"}
    assert order.new_events == [created]


def test_the_straight_path_records_each_fact_once_in_sequence() -> None:
    order = placed()
    order.mark_paid(at(1))
    order.start_step(order.next_step(), at(2))
    order.wallet_created("0xabc", at(3))
    order.tokens_sent(confirmed(), at(4))

    assert types(order) == [
        "order.created",
        "order.paid",
        "order.step_started",
        "order.wallet_created",
        "order.tokens_sent",
        "order.completed",
    ]
    assert [e.sequence for e in order.events] == [1, 2, 3, 4, 5, 6]
    assert [e.id for e in order.events] == [f"{order.id}:{n}" for n in range(1, 7)]
    started, wallet, sent, completed = order.events[2:]
    assert started.data == {
        "status": "creating_wallet",
        "step": "create_wallet",
        "attempt": 1,
        "retry": False,
    }
    assert wallet.data == {
        "status": "sending_token_to_smartwallet",
        "address": "0xabc",
        "attempt": 1,
    }
    assert sent.data == {
        "status": "completed",
        "transfer_id": "tr-1",
        "transfer_status": "confirmed",
        "tx_signature": "sig-1",
        "amount_out": "12.45",
    }
    assert completed.data == {"status": "completed"}
    assert replay_history(order.events) == order.history


def test_a_failed_step_records_step_attempt_and_retry_time_then_parks_and_is_retried() -> None:
    order = placed(smart_wallet_address="0xmine")
    order.mark_paid(at(1))
    order.start_step(order.next_step(), at(2))
    order.step_failed(at(3), "transfer service said 503", retry_at=at(10.0005))
    order.start_step(order.next_step(), at(11))
    order.step_failed(at(12), "transfer refused", retry_at=None)
    order.unpark(at(20))

    assert types(order)[3:] == [
        "order.step_failed",
        "order.step_started",
        "order.step_failed",
        "order.parked",
        "order.retried",
    ]
    failed, retried_step, failed_again, parked, retried = order.events[3:]
    assert failed.data == {
        "status": "send_token_to_smartwallet_fail",
        "step": "send_token",
        "attempt": 1,
        "reason": "transfer service said 503",
        "retry_at": "2026-01-01T12:00:10.123+00:00",
    }
    assert retried_step.data["retry"] is True
    assert retried_step.data["attempt"] == 2
    assert failed_again.data["retry_at"] is None
    assert parked.data == {"status": "send_token_to_smartwallet_fail", "reason": "transfer refused"}
    assert retried.data == {
        "status": "send_token_to_smartwallet_fail",
        "step": "send_token",
        "reason": "retry requested by an operator",
    }
    assert replay_history(order.events) == order.history


def test_a_failed_payment_records_its_reason() -> None:
    order = placed()
    order.mark_payment_failed(at(5), "gateway reports the payment expired")

    assert order.events[-1].type is E.PAYMENT_FAILED
    assert order.events[-1].data == {
        "status": "failed_pay",
        "reason": "gateway reports the payment expired",
    }
    assert replay_history(order.events) == order.history


def test_a_refused_move_records_nothing() -> None:
    order = placed()
    with pytest.raises(InvalidTransition):
        order.tokens_sent(confirmed(), at(1))
    # tokens_sent set the transfer before the table refused; no event was recorded for it.
    assert types(order) == ["order.created"]


def test_replay_refuses_a_gap_in_the_sequence() -> None:
    order = placed()
    order.mark_paid(at(1))
    order.start_step(Step.CREATE_WALLET, at(2))
    with pytest.raises(ValueError, match="expected sequence 2"):
        replay_history([order.events[0], order.events[2]])


def test_new_events_are_those_recorded_since_the_last_store() -> None:
    order = placed()
    order.events_stored()
    assert order.new_events == []
    order.mark_paid(at(1))
    assert [e.type for e in order.new_events] == [E.PAID]
    order.events_stored()
    assert order.new_events == []


async def test_a_run_collects_the_events_it_stored(world: InProcessPipeline) -> None:
    created = await world.create_order.execute(order_request())
    assert [e.type for e in created.order.events] == [E.CREATED]
    assert created.order.new_events == []  # stored with the order
    world.gateway.complete(created.order.payment.id)

    outcome = await world.advance.execute(created.order.id)

    assert [e.sequence for e in outcome.events] == [2, 3, 4, 5, 6]
    assert outcome.events[-1].type is E.COMPLETED
    stored = await world.repository.get(created.order.id)
    assert stored is not None
    assert stored.events == created.order.events[:1] + list(outcome.events)
    assert replay_history(stored.events) == stored.history


async def test_a_run_that_loses_the_race_reports_only_what_it_stored(
    world: InProcessPipeline,
) -> None:
    order = (await world.create_order.execute(order_request())).order
    world.gateway.complete(order.payment.id)
    world.wallet_faults.script("create_wallet", Fault.TRANSIENT)

    class Racing(FakeWalletService):
        """Another runner saves the order while this one calls the wallet service."""

        async def create_wallet(
            self, *, credential_id: str, public_key: str, idempotency_key: str
        ) -> Wallet:
            rival = await world.repository.get(order.id)
            assert rival is not None
            rival.updated_at = at(100)
            await world.repository.save(rival, expected_version=rival.version)
            return await super().create_wallet(
                credential_id=credential_id, public_key=public_key, idempotency_key=idempotency_key
            )

    advance = AdvanceOrder(
        world.repository,
        world.gateway,
        Racing(world.wallet_faults),
        world.transfers,
        world.scheduler,
        world.clock,
        world.retry_policy,
        world.timings,
    )

    outcome = await advance.execute(order.id)

    assert outcome.lost_race
    # paid and step_started were stored; the step_failed of the lost save was not.
    assert [e.type for e in outcome.events] == [E.PAID, E.STEP_STARTED]
    stored = await world.repository.get(order.id)
    assert stored is not None
    assert [e.type for e in stored.events] == [E.CREATED, E.PAID, E.STEP_STARTED]
    with pytest.raises(StaleOrder):
        await world.repository.save(outcome.order, expected_version=outcome.order.version)


def test_every_status_the_pipeline_enters_is_named_by_an_event() -> None:
    order = placed()
    order.mark_paid(at(1))
    order.start_step(Step.CREATE_WALLET, at(2))
    order.step_failed(at(3), "down", retry_at=at(4))
    order.start_step(Step.CREATE_WALLET, at(5))
    order.wallet_created("0xabc", at(6))
    order.tokens_sent(confirmed(), at(7))
    assert order.status is OrderStatus.COMPLETED
    assert [str(e.data["status"]) for e in order.events] == [
        c.status.value for c in replay_history(order.events)
    ] + ["completed"]
