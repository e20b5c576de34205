"""``POST /api/webhooks/nowpayments``: NOWPayments' IPNs (docs/nowpayments.md).

Verified by ``x-nowpayments-sig`` over the raw body (``nowpayments_signature``: HMAC-SHA512 of the
JavaScript-style sorted serialization); the body's numbers are read as exact decimals, never
floats. An IPN has no event id: it is keyed by (payment_id, payment_status, updated_at), so a
redelivery of one notification is handled once. Then the same use-case as the gateway's webhook
(``ReceiveWebhook``): the body is only a hint, ``AdvanceOrder`` asks NOWPayments for the status.

Answers: 202 accepted, 200 duplicate; 401 missing/malformed/wrong signature, 400 a body that is
not a JSON object or whose fields are not NOWPayments', 404 an unknown payment (NOWPayments
redelivers), 503 the queue is down. Never a 500 for what the body holds.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import HeaderParameter

from adapters.http.nowpayments_signature import (
    MAX_HEADER_LENGTH,
    IpnBodyError,
    IpnSignatureError,
    IpnVerifier,
)
from application.receive_webhook import ReceiveWebhook, WebhookDelivery
from entrypoints.api.bodies import InvalidBody
from entrypoints.api.dependencies import objects_of
from entrypoints.api.guards import require_json
from entrypoints.api.openapi import ApiOperation
from entrypoints.api.problems import SignatureRejected, problem_responses
from entrypoints.api.schemas import WebhookAck
from entrypoints.api.webhooks import answer

log = logging.getLogger(__name__)

#: NOWPayments' statuses; another one is accepted (the API is asked anyway) and logged.
KNOWN_STATUSES = frozenset(
    {
        "waiting",
        "confirming",
        "confirmed",
        "sending",
        "partially_paid",
        "finished",
        "failed",
        "refunded",
        "expired",
    }
)
#: Where the gate leaves the parsed body for the handler (``request.state``).
IPN_PAYLOAD = "nowpayments_ipn"
AMOUNT_FIELDS = ("price_amount", "pay_amount", "actually_paid", "outcome_amount")
MAX_FIELD_LENGTH = 256


async def require_signed_ipn(request: Request[Any, Any, Any]) -> None:
    """The IPN's gate: the raw body (413 over the limit), ``x-nowpayments-sig`` (401; checked
    before the body is trusted), the body a JSON object (400), then the content type (415).
    The parsed body (numbers as ``Decimal``) waits in ``request.state`` for the handler."""
    body = await request.body()
    verifier: IpnVerifier = objects_of(request.app.state).get("ipn_verifier")
    try:
        payload = verifier.verify(request.headers.get("x-nowpayments-sig"), body)
    except IpnSignatureError as exc:
        raise SignatureRejected(exc.reason) from None
    except IpnBodyError as exc:
        raise InvalidBody("malformed_json", str(exc), [("body", str(exc))]) from None
    await require_json(request)
    request.state[IPN_PAYLOAD] = payload


def _text(value: object) -> str | None:
    """A payment id or time as text: a string, or a whole non-negative number."""
    if isinstance(value, str):
        return value if 0 < len(value) <= MAX_FIELD_LENGTH else None
    whole = (
        isinstance(value, Decimal)
        and value.is_finite()
        and value >= 0
        and value == value.to_integral_value()
        and value.adjusted() < 40
    )
    return str(int(value)) if whole and isinstance(value, Decimal) else None


def _amount_problem(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            return "must be a number"
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        return "must be a finite, non-negative number"
    return None


def read_ipn(payload: dict[str, Any]) -> tuple[str, str, str]:
    """``(payment_id, payment_status, updated_at)`` of an IPN, or ``InvalidBody`` naming every
    offending field."""
    errors: list[tuple[str, str]] = []
    payment_id = _text(payload.get("payment_id"))
    if payment_id is None:
        errors.append(("payment_id", "must be a non-empty string or a whole number"))
    status = payload.get("payment_status")
    if not isinstance(status, str) or not 0 < len(status) <= 64:
        errors.append(("payment_status", "must be a non-empty string of at most 64 characters"))
    updated_at = _text(payload.get("updated_at"))
    if updated_at is None:
        errors.append(("updated_at", "must be a non-empty string or a whole number"))
    for name in AMOUNT_FIELDS:
        problem = _amount_problem(payload.get(name))
        if problem is not None:
            errors.append((name, problem))
    if errors or payment_id is None or not isinstance(status, str) or updated_at is None:
        where = ", ".join(field for field, _ in errors)
        raise InvalidBody("validation_error", f"invalid input: {where}", errors)
    return payment_id, status, updated_at


@post(
    "/api/webhooks/nowpayments",
    operation_id="receiveNowPaymentsIpn",
    operation_class=ApiOperation,
    status_code=202,
    tags=["webhooks"],
    summary="Receive a NOWPayments IPN",
    description=(
        "Verifies `x-nowpayments-sig` (hex HMAC-SHA512 with the IPN secret over the body "
        "re-serialized as JavaScript's `JSON.stringify` writes it, keys sorted recursively), "
        "records the notification by (payment_id, payment_status, updated_at) and has the "
        "order advanced from NOWPayments' own status: 202. A redelivered notification already "
        "handled: 200, nothing done again. Unknown payment: 404; queue unavailable: 503."
    ),
    before_request=require_signed_ipn,
    responses={
        200: ResponseSpec(
            data_container=WebhookAck,
            description="A duplicate of a notification already handled; nothing was done.",
        ),
        **problem_responses(400, 401, 404, 413, 415, 503),
    },
)
async def receive_nowpayments_ipn(
    # Checked by ``require_signed_ipn`` before anything else (401); declared for the document.
    x_nowpayments_sig: Annotated[
        str,
        HeaderParameter(
            name="x-nowpayments-sig",
            min_length=1,
            max_length=MAX_HEADER_LENGTH,
            description="Hex HMAC-SHA512, keyed with the IPN secret, of the body's sorted "
            "JavaScript serialization.",
            examples=[Example(value="0" * 128)],
        ),
    ],
    request: Request[Any, Any, Any],
    receive_webhook: NamedDependency[ReceiveWebhook],
) -> Response[WebhookAck]:
    payment_id, status, updated_at = read_ipn(request.state[IPN_PAYLOAD])
    if status not in KNOWN_STATUSES:
        log.warning(
            "NOWPayments IPN for payment %s with the unknown status %r: the API is asked",
            payment_id,
            status,
        )
    event_id = f"nowpayments:{payment_id}:{status}:{updated_at}"
    delivery = WebhookDelivery(event_id, payment_id, await request.body())
    return answer(event_id, await receive_webhook.execute(delivery))
