"""An in-memory ``WebhookEventLog``."""

from __future__ import annotations

import dataclasses

from application.ports import WebhookEvent


class InMemoryWebhookEventLog:
    """Events in a dict keyed by event id; the first record of an id wins."""

    def __init__(self) -> None:
        self._events: dict[str, WebhookEvent] = {}

    async def record(self, event: WebhookEvent) -> bool:
        if event.event_id in self._events:
            return False
        self._events[event.event_id] = event
        return True

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        event = self._events.get(event_id)
        if event is not None:
            self._events[event_id] = dataclasses.replace(event, outcome=outcome)

    async def get(self, event_id: str) -> WebhookEvent | None:
        return self._events.get(event_id)

    async def for_payment(self, payment_id: str) -> list[WebhookEvent]:
        events = [e for e in self._events.values() if e.payment_id == payment_id]
        return sorted(events, key=lambda e: e.received_at)
