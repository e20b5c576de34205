"""``ReceiveWebhook`` on the in-memory webhook log: each delivery handled once, a failed one
handled again, a crashed one handled again once its lease is over."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import get_args

import pytest

from adapters.fakes import FakeClock, FakePaymentGateway, FaultPlan, RecordingScheduler
from adapters.memory import InMemoryOrderRepository, InMemoryWebhookEventLog
from application.create_order import CreateOrder
from application.errors import InfrastructureUnavailable, PaymentNotFound
from application.handle_payment_notification import HandlePaymentNotification
from application.ports import WebhookEvent
from application.receive_webhook import (
    IN_FLIGHT_LEASE,
    ReceiveWebhook,
    WebhookAnswer,
    WebhookDelivery,
    WebhookOutcome,
    WebhookReceipt,
)
from domain import Order
from entrypoints.api.admin import RecordedOutcome
from tests.support.orders import order_request


class BrokenRepository(InMemoryOrderRepository):
    """Finding an order by payment fails with an error nobody expects."""

    async def get_by_payment_id(self, payment_id: str) -> Order | None:
        raise RuntimeError("the store fell over")


class LogThatCannotNoteOutcomes(InMemoryWebhookEventLog):
    """Records deliveries but cannot note what became of them (the store went down meanwhile)."""

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        raise InfrastructureUnavailable("mongodb", "down")


@dataclass
class Desk:
    clock: FakeClock
    log: InMemoryWebhookEventLog
    scheduler: RecordingScheduler
    repository: InMemoryOrderRepository
    receive: ReceiveWebhook
    order: Order

    def delivery(self, event_id: str = "evt-1", payment_id: str | None = None) -> WebhookDelivery:
        return WebhookDelivery(event_id, payment_id or self.order.payment.id, b'{"id": "x"}')

    async def outcome(self, event_id: str = "evt-1") -> str:
        stored = await self.log.get(event_id)
        assert stored is not None
        return stored.outcome


async def desk(
    repository: InMemoryOrderRepository | None = None, log: InMemoryWebhookEventLog | None = None
) -> Desk:
    clock = FakeClock()
    repository = repository or InMemoryOrderRepository()
    log = log or InMemoryWebhookEventLog()
    scheduler = RecordingScheduler(clock)
    gateway = FakePaymentGateway(clock, FaultPlan())
    created = await CreateOrder(repository, gateway, clock).execute(order_request())
    handle = HandlePaymentNotification(repository, scheduler)
    receive = ReceiveWebhook(log, handle, clock)
    return Desk(clock, log, scheduler, repository, receive, created.order)


async def test_a_first_delivery_is_accepted_recorded_and_its_order_scheduled() -> None:
    d = await desk()

    receipt = await d.receive.execute(d.delivery())

    assert receipt.answer is WebhookAnswer.ACCEPTED
    assert receipt.order is not None
    assert receipt.order.id == d.order.id
    assert d.order.id in d.scheduler.jobs
    stored = await d.log.get("evt-1")
    assert stored is not None
    assert (stored.payment_id, stored.raw_payload, stored.received_at) == (
        d.order.payment.id,
        b'{"id": "x"}',
        d.clock.now(),
    )
    assert stored.outcome == WebhookOutcome.ACCEPTED


async def test_a_redelivery_of_a_handled_delivery_is_a_duplicate_and_does_nothing() -> None:
    d = await desk()
    await d.receive.execute(d.delivery())
    d.scheduler.calls.clear()
    d.clock.advance(3600)

    receipt = await d.receive.execute(d.delivery())

    assert receipt == WebhookReceipt(WebhookAnswer.DUPLICATE)
    assert d.scheduler.calls == []
    assert await d.outcome() == WebhookOutcome.ACCEPTED


async def test_an_event_type_not_acted_on_is_ignored_and_so_is_its_redelivery() -> None:
    d = await desk()

    first = await d.receive.execute(d.delivery(), acted_on=False)
    again = await d.receive.execute(d.delivery(), acted_on=True)

    assert (first.answer, again.answer) == (WebhookAnswer.IGNORED, WebhookAnswer.DUPLICATE)
    assert d.scheduler.calls == []
    assert await d.outcome() == WebhookOutcome.IGNORED


async def test_a_delivery_in_progress_elsewhere_is_a_duplicate_until_its_lease_is_over() -> None:
    d = await desk()
    # Another request recorded it and is still handling it (or crashed before noting an outcome).
    await d.log.record(
        WebhookEvent("evt-1", d.order.payment.id, b"{}", d.clock.now(), WebhookOutcome.RECEIVED)
    )
    d.clock.advance(IN_FLIGHT_LEASE.total_seconds() - 1)

    during = await d.receive.execute(d.delivery())
    assert during.answer is WebhookAnswer.DUPLICATE
    assert d.scheduler.calls == []

    d.clock.advance(2)  # the lease is over: the request that had it crashed
    after = await d.receive.execute(d.delivery())
    assert after.answer is WebhookAnswer.ACCEPTED
    assert d.order.id in d.scheduler.jobs
    assert await d.outcome() == WebhookOutcome.ACCEPTED


async def test_an_unknown_payment_is_raised_recorded_and_handled_again_on_redelivery() -> None:
    d = await desk()

    with pytest.raises(PaymentNotFound):
        await d.receive.execute(d.delivery(payment_id="pay-unknown"))
    assert await d.outcome() == WebhookOutcome.UNKNOWN_PAYMENT

    # The payment is still unknown on redelivery: handled again, not a duplicate.
    with pytest.raises(PaymentNotFound):
        await d.receive.execute(d.delivery(payment_id="pay-unknown"))


async def test_a_queue_outage_is_raised_recorded_and_the_redelivery_is_accepted() -> None:
    d = await desk()
    d.scheduler.unavailable = True

    with pytest.raises(InfrastructureUnavailable):
        await d.receive.execute(d.delivery())
    assert await d.outcome() == WebhookOutcome.QUEUE_UNAVAILABLE

    d.scheduler.unavailable = False
    receipt = await d.receive.execute(d.delivery())
    assert receipt.answer is WebhookAnswer.ACCEPTED
    assert await d.outcome() == WebhookOutcome.ACCEPTED


async def test_any_other_failure_is_raised_unchanged_and_recorded_as_failed() -> None:
    d = await desk(repository=BrokenRepository())

    with pytest.raises(RuntimeError, match="fell over"):
        await d.receive.execute(d.delivery())
    assert await d.outcome() == WebhookOutcome.FAILED


async def test_a_log_that_cannot_note_the_failure_does_not_replace_the_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = await desk(log=LogThatCannotNoteOutcomes())
    d.scheduler.unavailable = True

    with caplog.at_level(logging.ERROR), pytest.raises(InfrastructureUnavailable, match="queue"):
        await d.receive.execute(d.delivery())
    assert "could not record outcome queue_unavailable of webhook event evt-1" in caplog.text


def test_the_api_document_names_every_recorded_outcome() -> None:
    assert set(get_args(RecordedOutcome)) == {outcome.value for outcome in WebhookOutcome}
