"""The log of webhook deliveries received, keyed by their id (the gateway's event id, or a
key built from a NOWPayments IPN)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One delivery as recorded: its id, the payment it names, the raw body as received, when it
    arrived and what became of it (``application.receive_webhook.WebhookOutcome``'s values)."""

    event_id: str
    payment_id: str | None
    raw_payload: bytes
    received_at: datetime
    outcome: str


class WebhookEventLog(Protocol):
    """Records each event once, so a redelivered event is not processed twice."""

    async def record(self, event: WebhookEvent) -> bool:
        """Store the event; False if an event with this id was recorded before."""

    async def set_outcome(self, event_id: str, outcome: str) -> None:
        """Note what became of the event (accepted, unknown_payment, ...)."""

    async def get(self, event_id: str) -> WebhookEvent | None:
        """The recorded event, or None."""

    async def for_payment(self, payment_id: str) -> list[WebhookEvent]:
        """Every event recorded for this payment, oldest first."""
