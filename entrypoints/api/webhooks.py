"""``POST /api/webhooks/payments``: the payment gateway's events.

Verified (``guards.require_signed_json``), recorded in the webhook log by event id, then handed to
``HandlePaymentNotification``. A redelivery of an event already handled answers 200 and does
nothing; one whose first delivery failed (unknown payment, queue down, a crash) is handled again.
See docs/adr/0004-webhook-handling.md.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any, Final

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter, JSONBody, SkipValidation

from adapters.http.webhook_signature import MAX_HEADER_LENGTH
from application.errors import InfrastructureUnavailable, PaymentNotFound
from application.handle_payment_notification import HandlePaymentNotification
from application.ports import Clock, WebhookEvent, WebhookEventLog
from entrypoints.api.bodies import JSON_BODY
from entrypoints.api.guards import require_signed_json
from entrypoints.api.openapi import ApiOperation
from entrypoints.api.problems import problem_responses
from entrypoints.api.schemas import PaymentWebhookBody, WebhookAck
from entrypoints.log_config import bind_order

log = logging.getLogger(__name__)

HANDLED_EVENT_TYPE = "payment.updated"

# Outcomes recorded in the webhook log.
RECEIVED = "received"
ACCEPTED: Final = "accepted"
IGNORED: Final = "ignored"
UNKNOWN_PAYMENT = "unknown_payment"
QUEUE_UNAVAILABLE = "queue_unavailable"
FAILED = "failed"
#: Outcomes after which a redelivery is answered 200 without doing anything again.
DONE = frozenset({ACCEPTED, IGNORED})
#: An event still ``received`` after this long was left by a crashed request: handle it again.
IN_FLIGHT_LEASE = timedelta(seconds=30)


@post(
    "/api/webhooks/payments",
    operation_id="receivePaymentEvent",
    operation_class=ApiOperation,
    status_code=202,
    tags=["webhooks"],
    summary="Receive a payment event from the gateway",
    description=(
        "Verifies `X-Signature` (`t=<unix seconds>,v1=<hex>`, HMAC-SHA256 over `<t>.<raw body>`, "
        "several `v1` accepted during a secret rotation, 300 s tolerance), records the event by "
        "its id and has the order advanced: 202. A redelivered event already handled: 200, "
        "nothing done again. Unknown payment: 404; queue unavailable: 503 (the gateway "
        "redelivers, nothing is lost)."
    ),
    before_request=require_signed_json,
    opt={JSON_BODY: PaymentWebhookBody},
    responses={
        200: ResponseSpec(
            data_container=WebhookAck,
            description="A duplicate of an event already handled, or an event type that is "
            "ignored; nothing was done.",
        ),
        **problem_responses(400, 401, 404, 413, 415, 503),
    },
)
async def receive_payment_event(
    data: JSONBody[PaymentWebhookBody],
    # Checked by ``require_signed_json`` before anything else (401); declared for the document.
    x_signature: Annotated[
        str,
        HeaderParameter(
            name="X-Signature",
            min_length=1,
            max_length=MAX_HEADER_LENGTH,
            description="`t=<unix seconds>,v1=<hex>`: HMAC-SHA256 with the shared secret over "
            "`<t>.<raw body>`; several `v1=` during a secret rotation.",
            examples=[Example(value="t=1767225600,v1=" + "0" * 64)],
        ),
    ],
    request: Request[Any, Any, Any],
    # Ports are Protocols, which Litestar cannot isinstance-check: SkipValidation.
    webhook_log: NamedDependency[SkipValidation[WebhookEventLog]],
    handle_payment_notification: NamedDependency[HandlePaymentNotification],
    clock: NamedDependency[SkipValidation[Clock]],
) -> Response[WebhookAck]:
    now = clock.now()
    event = WebhookEvent(
        event_id=data.id,
        payment_id=data.data.payment_id,
        raw_payload=await request.body(),
        received_at=now,
        outcome=RECEIVED,
    )
    if not await webhook_log.record(event):
        previous = await webhook_log.get(data.id)
        if previous is not None and _already_handled(previous, now - IN_FLIGHT_LEASE):
            return Response(WebhookAck(event_id=data.id, outcome="duplicate"), status_code=200)
    if data.type != HANDLED_EVENT_TYPE:
        await webhook_log.set_outcome(data.id, IGNORED)
        return Response(WebhookAck(event_id=data.id, outcome=IGNORED), status_code=200)
    try:
        order = await handle_payment_notification.execute(data.data.payment_id)
    except PaymentNotFound:
        await webhook_log.set_outcome(data.id, UNKNOWN_PAYMENT)
        raise
    except InfrastructureUnavailable:
        await _note_failure(webhook_log, data.id, QUEUE_UNAVAILABLE)
        raise
    except Exception:
        await _note_failure(webhook_log, data.id, FAILED)
        raise
    bind_order(order.id, order.reference_id)  # on this request's later log lines
    await webhook_log.set_outcome(data.id, ACCEPTED)
    return Response(
        WebhookAck(event_id=data.id, outcome=ACCEPTED, order_id=order.id), status_code=202
    )


def _already_handled(previous: WebhookEvent, lease_start: datetime) -> bool:
    if previous.outcome in DONE:
        return True
    # Another request is handling it right now: its own answer tells the gateway what happened.
    return previous.outcome == RECEIVED and previous.received_at > lease_start


async def _note_failure(webhook_log: WebhookEventLog, event_id: str, outcome: str) -> None:
    # The answer is already an error; a log that is down too must not turn it into another one.
    try:
        await webhook_log.set_outcome(event_id, outcome)
    except Exception:
        log.exception("could not record outcome %s of webhook event %s", outcome, event_id)
