"""A payment notification arrived (the gateway's webhook or a NOWPayments IPN): handle it once.

The webhook log records each delivery by its id before anything is done, so a redelivery of a
notification already handled does nothing again, while one whose first delivery failed (unknown
payment, queue down, a crash) is handled again. docs/adr/0004-webhook-handling.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from application.errors import InfrastructureUnavailable, PaymentNotFound
from application.handle_payment_notification import HandlePaymentNotification
from application.ports import Clock, WebhookEvent, WebhookEventLog
from domain import Order

log = logging.getLogger(__name__)

#: A delivery still ``received`` after this long was left by a crashed request: handle it again.
IN_FLIGHT_LEASE = timedelta(seconds=30)


class WebhookOutcome(StrEnum):
    """What became of a delivery, as the webhook log records it."""

    #: Recorded, being handled (or left by a crash: see ``IN_FLIGHT_LEASE``).
    RECEIVED = "received"
    #: The order is being advanced.
    ACCEPTED = "accepted"
    #: An event type this service does not act on.
    IGNORED = "ignored"
    #: No order has this payment: the sender redelivers, the next delivery is handled again.
    UNKNOWN_PAYMENT = "unknown_payment"
    #: The queue was down: handled again on redelivery.
    QUEUE_UNAVAILABLE = "queue_unavailable"
    #: Any other failure: handled again on redelivery.
    FAILED = "failed"


#: Outcomes after which a redelivery is answered without doing anything again.
DONE = frozenset({WebhookOutcome.ACCEPTED, WebhookOutcome.IGNORED})


class WebhookAnswer(StrEnum):
    """What the use-case tells the sender."""

    ACCEPTED = "accepted"
    IGNORED = "ignored"
    #: Handled before (or being handled right now by another request): nothing done.
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One delivery: its id (the sender's event id, or a key built from the notification), the
    payment it names and the raw body as received (kept for the operator)."""

    event_id: str
    payment_id: str
    raw_payload: bytes


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    """The answer, and the order being advanced (only when ``ACCEPTED``)."""

    answer: WebhookAnswer
    order: Order | None = None


class ReceiveWebhook:
    """Records the delivery, then (unless a redelivery of one handled) has its order advanced.

    ``execute`` returns ``DUPLICATE`` for a delivery already ``accepted``/``ignored`` or
    ``received`` less than ``IN_FLIGHT_LEASE`` ago; ``IGNORED`` (recorded so) when ``acted_on``
    is False; else ``ACCEPTED`` with the order, after ``HandlePaymentNotification`` scheduled it.
    A failure of that step is recorded as its outcome and raised unchanged (``PaymentNotFound``,
    ``InfrastructureUnavailable``, anything else); a log that cannot record the failure does not
    replace the error.
    """

    def __init__(
        self,
        webhook_log: WebhookEventLog,
        handle_payment_notification: HandlePaymentNotification,
        clock: Clock,
    ) -> None:
        self._log = webhook_log
        self._handle = handle_payment_notification
        self._clock = clock

    async def execute(self, delivery: WebhookDelivery, *, acted_on: bool = True) -> WebhookReceipt:
        now = self._clock.now()
        event = WebhookEvent(
            event_id=delivery.event_id,
            payment_id=delivery.payment_id,
            raw_payload=delivery.raw_payload,
            received_at=now,
            outcome=WebhookOutcome.RECEIVED,
        )
        if not await self._log.record(event):
            previous = await self._log.get(delivery.event_id)
            if previous is not None and _already_handled(previous, now - IN_FLIGHT_LEASE):
                return WebhookReceipt(WebhookAnswer.DUPLICATE)
        if not acted_on:
            await self._log.set_outcome(delivery.event_id, WebhookOutcome.IGNORED)
            return WebhookReceipt(WebhookAnswer.IGNORED)
        try:
            order = await self._handle.execute(delivery.payment_id)
        except PaymentNotFound:
            await self._log.set_outcome(delivery.event_id, WebhookOutcome.UNKNOWN_PAYMENT)
            raise
        except InfrastructureUnavailable:
            await self._note_failure(delivery.event_id, WebhookOutcome.QUEUE_UNAVAILABLE)
            raise
        except Exception:
            await self._note_failure(delivery.event_id, WebhookOutcome.FAILED)
            raise
        await self._log.set_outcome(delivery.event_id, WebhookOutcome.ACCEPTED)
        return WebhookReceipt(WebhookAnswer.ACCEPTED, order)

    async def _note_failure(self, event_id: str, outcome: WebhookOutcome) -> None:
        # The answer is already an error; a log that is down too must not turn it into another.
        try:
            await self._log.set_outcome(event_id, outcome)
        except Exception:
            log.exception("could not record outcome %s of webhook event %s", outcome, event_id)


def _already_handled(previous: WebhookEvent, lease_start: datetime) -> bool:
    if previous.outcome in DONE:
        return True
    # Another request is handling it right now: its own answer tells the sender what happened.
    return previous.outcome == WebhookOutcome.RECEIVED and previous.received_at > lease_start
