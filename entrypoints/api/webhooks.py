"""``POST /api/webhooks/payments``: the payment gateway's events.

Verified (``guards.require_signed_json``), then handed to ``ReceiveWebhook`` (recorded by event
id, handled once): 202 when the order is being advanced, 200 for a duplicate or an ignored event
type; the use-case's errors become problems (unknown payment 404, queue down 503).
See docs/adr/0004-webhook-handling.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter, JSONBody

from adapters.http.webhook_signature import MAX_HEADER_LENGTH
from application.receive_webhook import (
    ReceiveWebhook,
    WebhookAnswer,
    WebhookDelivery,
    WebhookReceipt,
)
from entrypoints.api.bodies import JSON_BODY
from entrypoints.api.guards import require_signed_json
from entrypoints.api.openapi import ApiOperation
from entrypoints.api.problems import problem_responses
from entrypoints.api.schemas import PaymentWebhookBody, WebhookAck
from entrypoints.log_config import bind_order

#: The one event type acted on; another is recorded as ``ignored`` and answered 200.
HANDLED_EVENT_TYPE = "payment.updated"
#: The use-case's answer as the ``outcome`` of :class:`WebhookAck`.
_ACK_OUTCOME: Final[dict[WebhookAnswer, Literal["accepted", "duplicate", "ignored"]]] = {
    WebhookAnswer.ACCEPTED: "accepted",
    WebhookAnswer.DUPLICATE: "duplicate",
    WebhookAnswer.IGNORED: "ignored",
}


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
    receive_webhook: NamedDependency[ReceiveWebhook],
) -> Response[WebhookAck]:
    delivery = WebhookDelivery(data.id, data.data.payment_id, await request.body())
    receipt = await receive_webhook.execute(delivery, acted_on=data.type == HANDLED_EVENT_TYPE)
    return answer(data.id, receipt)


def answer(event_id: str, receipt: WebhookReceipt) -> Response[WebhookAck]:
    """The sender's answer: 202 when the order is being advanced, else 200."""
    outcome = _ACK_OUTCOME[receipt.answer]
    if receipt.order is None:
        return Response(WebhookAck(event_id=event_id, outcome=outcome), status_code=200)
    bind_order(receipt.order.id, receipt.order.reference_id)  # on this request's later lines
    return Response(
        WebhookAck(event_id=event_id, outcome=outcome, order_id=receipt.order.id),
        status_code=202,
    )
