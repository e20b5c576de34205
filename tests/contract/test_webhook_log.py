"""The ``WebhookEventLog`` contract: in-memory and Mongo."""

from __future__ import annotations

from application.ports import WebhookEvent, WebhookEventLog
from tests.contract.orders import at


def event(
    event_id: str, payment_id: str | None, seconds: float, outcome: str = "received"
) -> WebhookEvent:
    body = f'{{"id": "{event_id}", "data": {{"payment_id": "{payment_id}"}}}}'.encode()
    return WebhookEvent(event_id, payment_id, body + b"\x00\xff", at(seconds), outcome)


async def test_an_event_is_recorded_once_and_the_first_record_wins(
    webhook_log: WebhookEventLog,
) -> None:
    first = event("evt-1", "pay-1", 0)

    assert await webhook_log.record(first) is True
    assert await webhook_log.record(event("evt-1", "pay-1", 5, outcome="other")) is False

    assert await webhook_log.get("evt-1") == first


async def test_an_unknown_event_reads_none(webhook_log: WebhookEventLog) -> None:
    await webhook_log.record(event("evt-1", "pay-1", 0))
    assert await webhook_log.get("evt-2") is None


async def test_the_outcome_is_noted_on_the_recorded_event(webhook_log: WebhookEventLog) -> None:
    await webhook_log.record(event("evt-1", "pay-1", 0))

    await webhook_log.set_outcome("evt-1", "accepted")
    await webhook_log.set_outcome("evt-unknown", "accepted")  # nothing to note: no error

    stored = await webhook_log.get("evt-1")
    assert stored is not None
    assert stored.outcome == "accepted"
    assert stored.raw_payload.endswith(b"\x00\xff")
    assert await webhook_log.get("evt-unknown") is None


async def test_events_of_a_payment_come_oldest_first(webhook_log: WebhookEventLog) -> None:
    for e in (
        event("evt-3", "pay-1", 30),
        event("evt-1", "pay-1", 10),
        event("evt-x", "pay-2", 20),
        event("evt-n", None, 15),
        event("evt-2", "pay-1", 20),
    ):
        await webhook_log.record(e)

    found = await webhook_log.for_payment("pay-1")

    assert [e.event_id for e in found] == ["evt-1", "evt-2", "evt-3"]
    assert found[0] == event("evt-1", "pay-1", 10)
    assert await webhook_log.for_payment("pay-9") == []
    assert await webhook_log.get("evt-n") == event("evt-n", None, 15)
