"""The wire format of the API: msgspec Structs, snake_case, amounts as decimal strings.

Requests are checked twice on purpose: the Struct constraints (types, lengths, the grammar of each
constrained string) are what the OpenAPI schema documents and what msgspec rejects while decoding;
the domain's ``OrderRequest`` then checks the rules (positive, bounded, precision, min ≤ amount, the
tolerance range, ISO 4217) and names the field in its ``InvalidOrder``. Every pattern here is the
domain's own (``domain.grammar``), anchored for a validator that searches. Nothing here is trusted
past :meth:`CreateOrderBody.to_order_request`. When a body fails, ``entrypoints/api/bodies.py``
names every offending field, not only the first.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

import msgspec

from application.ports import PaymentState, TransferState
from domain import (
    EventType,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    Passkey,
    RefundCause,
    RefundStatus,
    grammar,
)
from domain.order import request_problems as order_rule_problems
from entrypoints.api.bodies import shape_problems


def _text(rule: grammar.TextRule, description: str, example: str) -> msgspec.Meta:
    return msgspec.Meta(
        min_length=rule.min_length,
        max_length=rule.max_length,
        pattern=rule.wire_pattern,
        description=f"{description} It {rule.words}.",
        examples=[example],
    )


#: The wire grammar of a decimal: ``domain.grammar.DECIMAL_TEXT``.
DECIMAL_PATTERN = grammar.DECIMAL_TEXT.wire_pattern

DecimalString = Annotated[
    str,
    msgspec.Meta(
        pattern=DECIMAL_PATTERN,
        max_length=grammar.DECIMAL_TEXT.max_length,
        description="A decimal number as a string (no exponent, NaN or Infinity). Value-equal "
        "spellings are the same amount (`12.50` is `12.5`); answers carry the shortest one.",
        examples=["12.5"],
    ),
]
Identifier = Annotated[str, _text(grammar.IDENTIFIER, "An identifier.", "ref-0001")]
Currency = Annotated[str, _text(grammar.CURRENCY, "The fiat currency.", "EUR")]


class PasskeyBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The buyer's passkey; the smart wallet is derived from it."""

    credential_id: Annotated[
        str, _text(grammar.CREDENTIAL_ID, "The passkey's credential id.", "cred-1")
    ]
    public_key: Annotated[str, _text(grammar.PUBLIC_KEY, "The passkey's public key.", "pk-1")]


class CreateOrderBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``POST /api/orders``. ``reference_id`` is the idempotency key: the same body under it
    replays the order, another body conflicts (409)."""

    reference_id: Identifier
    pool_id: Identifier
    token_symbol: Annotated[str, _text(grammar.TOKEN_SYMBOL, "The token to buy.", "USDC")]
    amount_token: DecimalString
    min_amount_token_receive: DecimalString
    price_tolerance_percent: DecimalString
    fiat_currency: Currency
    price_fiat: DecimalString
    passkey: PasskeyBody
    smart_wallet_address: (
        Annotated[
            str,
            _text(grammar.WALLET_ADDRESS, "The buyer's smart wallet, if it exists.", "W1"),
        ]
        | None
    ) = None
    return_url: (
        Annotated[
            str,
            _text(
                grammar.RETURN_URL,
                "Where the gateway's checkout page sends the buyer after paying or failing, with "
                "`payment_id` and `status` in the query. Its origin must be one of "
                "`CORS_ALLOWED_ORIGINS` (400 otherwise).",
                "http://127.0.0.1:8010/shop",
            ),
        ]
        | None
    ) = None

    def to_order_request(self) -> OrderRequest:
        """The domain's request; ``InvalidOrder`` (naming every field) when a rule is broken.
        Amounts are canonical from here on (``grammar.parse_decimal``): value-equal spellings
        make equal requests and the same gateway body."""
        parse = grammar.parse_decimal
        return OrderRequest(
            reference_id=self.reference_id,
            pool_id=self.pool_id,
            token_symbol=self.token_symbol,
            # The pattern above guarantees Decimal() parses these exactly.
            amount_token=parse(self.amount_token),
            min_amount_token_receive=parse(self.min_amount_token_receive),
            price_tolerance_percent=parse(self.price_tolerance_percent),
            fiat_currency=self.fiat_currency,
            price_fiat=parse(self.price_fiat),
            passkey=Passkey(
                credential_id=self.passkey.credential_id, public_key=self.passkey.public_key
            ),
            smart_wallet_address=self.smart_wallet_address,
            return_url=self.return_url,
        )


#: The order errors are listed in: the body's own field order.
_FIELD_ORDER = {
    name: index
    for index, name in enumerate(
        [
            *(f for f in CreateOrderBody.__struct_fields__ if f != "passkey"),
            *grammar.REQUEST_TEXT_RULES,
        ]
    )
}


def create_order_problems(value: Any) -> list[tuple[str, str]]:
    """Every offending field of a create body (plain JSON values) that did not decode: its shape
    (``bodies.shape_problems``, in the grammar's words), then the domain's rules on the fields
    whose shape is right (ranges, precision, min ≤ amount, ISO 4217)."""
    found = shape_problems(CreateOrderBody, value, rules=grammar.REQUEST_TEXT_RULES)
    if isinstance(value, dict):
        bad = {name for name, _ in found}
        passkey = value.get("passkey")
        typed: dict[str, object] = {}
        for name, rule in grammar.REQUEST_TEXT_RULES.items():
            holder, _, key = name.rpartition(".")
            source = passkey if holder else value
            if name in bad or not isinstance(source, dict) or key not in source:
                continue
            item = source[key]
            typed[name] = grammar.parse_decimal(item) if rule is grammar.DECIMAL_TEXT else item
        found += [p for p in order_rule_problems(typed) if p[0] not in bad]
    return sorted(found, key=lambda p: _FIELD_ORDER.get(p[0], len(_FIELD_ORDER)))


# --- answers -----------------------------------------------------------------------------


ORDER_ID_EXAMPLE = "0b7e8f9c-4a3b-5d6e-8f01-23456789abcd"


def ms_text(moment: datetime) -> str:
    """A time as the API writes every time: RFC 3339, UTC, exactly three fraction digits and
    ``Z`` (``2026-03-01T12:00:00.000Z``), whatever the microseconds (the clock keeps whole ms)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def ms_text_or_none(moment: datetime | None) -> str | None:
    """:func:`ms_text`, or None for no time."""
    return None if moment is None else ms_text(moment)


def when(description: str, example: str) -> msgspec.Meta:
    """A time field's documentation: a ``date-time`` string at millisecond precision."""
    return msgspec.Meta(
        description=f"{description} RFC 3339 in UTC with milliseconds.",
        examples=[example],
        extra_json_schema={"extra": {"format": "date-time"}},
    )


def said(description: str, *examples: object) -> msgspec.Meta:
    """A response field's documentation (and examples, valid values of the field)."""
    return msgspec.Meta(description=description, examples=list(examples) if examples else None)


class PaymentView(msgspec.Struct, frozen=True):
    """The gateway's payment: where to send the buyer, and its last known status."""

    id: Annotated[str, said("The gateway's payment id.", "pay_000001")]
    checkout_url: Annotated[
        str | None,
        said(
            "The gateway's hosted checkout page: send the buyer's browser there. Null with a "
            "crypto gateway (NOWPayments): show `pay_amount`, `pay_currency` and `pay_address`.",
            "http://127.0.0.1:8010/checkout/pay_000001",
        ),
    ]
    status: Annotated[
        PaymentState, said("The payment's last known status at the gateway.", "pending")
    ]
    amount: Annotated[str, said("The amount to pay, a decimal string.", "13.10")]
    currency: Annotated[str, said("The currency of `amount`, ISO 4217.", "EUR")]
    created_at: Annotated[
        str | None, when("When the gateway created the payment.", "2026-03-01T12:00:00.000Z")
    ]
    expires_at: Annotated[
        str | None,
        when("When the payment expires unpaid at the gateway.", "2026-03-01T12:30:00.000Z"),
    ]
    pay_address: Annotated[
        str | None,
        said(
            "Crypto gateway only (else null): the address the buyer sends `pay_amount` to.",
            "8uK4wW3tBzvJ6Lk2cYqJ7m2w9a9R5JxQ1Yd3pVbNn4Ew",
        ),
    ] = None
    pay_amount: Annotated[
        str | None,
        said("Crypto gateway only (else null): the amount to send, a decimal string.", "0.00029"),
    ] = None
    pay_currency: Annotated[
        str | None,
        said("Crypto gateway only (else null): the currency of `pay_amount`.", "sol"),
    ] = None
    paid_amount: Annotated[
        str | None,
        said(
            "Crypto gateway only: what the buyer sent when it was less than `pay_amount` (an "
            "under-payment: the order stays pending), a decimal string; null when none was seen.",
            "0.00012",
        ),
    ] = None
    paid_currency: Annotated[
        str | None,
        said("The currency of `paid_amount` (null with it).", "sol"),
    ] = None


class PasskeyView(msgspec.Struct, frozen=True):
    """Which of the buyer's passkeys the wallet is derived from (its public key is not shown:
    the browser has it, and only the wallet service needs it)."""

    credential_id: Annotated[str, said("The passkey's credential id.", "cred-1")]


class TransferView(msgspec.Struct, frozen=True):
    """The one token transfer of the order."""

    transfer_id: Annotated[str, said("The transfer service's id.", "tr_000001")]
    status: Annotated[
        TransferState, said("The transfer's status at the transfer service.", "confirmed")
    ]
    tx_signature: Annotated[
        str | None, said("The on-chain transaction signature, once sent.", "5xSig")
    ]
    amount_out: Annotated[
        str | None, said("The tokens received, a decimal string, once known.", "12.49")
    ]


class HistoryLineView(msgspec.Struct, frozen=True):
    """One move of the order's status, as the buyer sees it (the reasons, which name downstream
    failures, are the operator's: ``/api/admin/orders/{id}/history``)."""

    status: Annotated[OrderStatus, said("The status the order moved to.", "completed_pay")]
    at: Annotated[str, when("When it moved.", "2026-03-01T12:01:00.000Z")]


class RefundView(msgspec.Struct, frozen=True):
    """The order's one refund (docs/refunds.md): its money goes back to the buyer."""

    status: Annotated[
        RefundStatus,
        said(
            "`requested` (saved before the gateway call), `pending`, `succeeded`, `failed`.",
            "succeeded",
        ),
    ]
    amount: Annotated[
        str, said("The amount refunded, a decimal string (all that was paid).", "13.10")
    ]
    currency: Annotated[str, said("The currency of `amount`, ISO 4217.", "EUR")]
    cause: Annotated[
        RefundCause,
        said("Why: `late_payment`, `amount_mismatch` or `operator`.", "late_payment"),
    ]
    reason: Annotated[
        str, said("The reason in words.", "payment completed after the order had failed")
    ]
    idempotency_key: Annotated[
        str, said("The key of the gateway call: `<order id>:refund`.", "o-1:refund")
    ]
    refund_id: Annotated[
        str | None, said("The gateway's refund id, once it answered.", "rf_000001")
    ]
    failure_reason: Annotated[str | None, said("Why the gateway failed it.", None)]
    attempts: Annotated[int, said("Calls that failed since the last answer.", 0)]
    last_error: Annotated[str | None, said("The last failed call.", None)]
    next_attempt_at: Annotated[
        str | None, when("When the worker calls or looks again.", "2026-03-01T12:05:00.000Z")
    ]
    requested_at: Annotated[str, when("When it was requested.", "2026-03-01T12:01:00.000Z")]

    @classmethod
    def of_order(cls, order: Order) -> RefundView | None:
        refund = order.refund
        if refund is None:
            return None
        return cls(
            status=refund.status,
            amount=_decimal(refund.amount),
            currency=refund.currency,
            cause=refund.cause,
            reason=refund.reason,
            idempotency_key=order.refund_key,
            refund_id=refund.refund_id,
            failure_reason=refund.failure_reason,
            attempts=refund.attempts,
            last_error=refund.last_error,
            next_attempt_at=ms_text_or_none(refund.next_attempt_at),
            requested_at=ms_text(refund.requested_at),
        )


class BuyerRefundView(msgspec.Struct, frozen=True):
    """The order's refund as its buyer sees it: what goes back, why and how far it got (the
    gateway's ids, the operator's reason and the retry state are the admin view's)."""

    status: Annotated[
        RefundStatus,
        said("`requested`, `pending`, `succeeded` or `failed`.", "succeeded"),
    ]
    amount: Annotated[
        str, said("The amount refunded, a decimal string (all that was paid).", "13.10")
    ]
    currency: Annotated[str, said("The currency of `amount`, ISO 4217.", "EUR")]
    cause: Annotated[
        RefundCause,
        said("Why: `late_payment`, `amount_mismatch` or `operator`.", "late_payment"),
    ]
    requested_at: Annotated[str, when("When it was requested.", "2026-03-01T12:01:00.000Z")]

    @classmethod
    def of_order(cls, order: Order) -> BuyerRefundView | None:
        refund = order.refund
        if refund is None:
            return None
        return cls(
            status=refund.status,
            amount=_decimal(refund.amount),
            currency=refund.currency,
            cause=refund.cause,
            requested_at=ms_text(refund.requested_at),
        )


class OperatorReasonBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """An operator's decision about a parked order, and why (kept in its history)."""

    reason: Annotated[
        str,
        _text(grammar.OPERATOR_REASON, "Why, for the order's history.", "buyer asked for it"),
    ]


def operator_reason_problems(value: Any) -> list[tuple[str, str]]:
    """Every offending field of an operator's body, in the grammar's words."""
    return shape_problems(OperatorReasonBody, value, rules={"reason": grammar.OPERATOR_REASON})


class StatusChangeView(msgspec.Struct, frozen=True):
    """One move of the order's status."""

    status: Annotated[OrderStatus, said("The status the order moved to.", "completed_pay")]
    at: Annotated[str, when("When it moved.", "2026-03-01T12:01:00.000Z")]
    reason: Annotated[str, said("Why it moved (may be empty).", "payment completed")]


class EventView(msgspec.Struct, frozen=True):
    """One event of an order (docs/events.md)."""

    id: Annotated[
        str,
        said("The event id: `<order id>:<sequence>`, the same on every delivery.", "o-1:2"),
    ]
    type: Annotated[EventType, said("What happened.", "order.paid")]
    order_id: Annotated[str, said("The order.", ORDER_ID_EXAMPLE)]
    sequence: Annotated[int, said("1, 2, 3 … per order, with no gaps.", 2)]
    created_at: Annotated[str, when("When it happened.", "2026-03-01T12:01:00.123Z")]
    data: Annotated[
        dict[str, str | int | bool | None],
        said(
            "The event's payload: always `status` (the order's status after it), plus the "
            "type's own fields (docs/events.md).",
            {"status": "completed_pay"},
        ),
    ]

    @classmethod
    def of(cls, event: OrderEvent) -> EventView:
        return cls(
            id=event.id,
            type=event.type,
            order_id=event.order_id,
            sequence=event.sequence,
            created_at=ms_text(event.at),
            data=dict(event.data),
        )


class OrderView(msgspec.Struct, frozen=True):
    """An order as its buyer's browser sees it: status, payment, wallet, transfer and status
    history; what only an operator needs is left out (docs/api.md, "What a buyer sees")."""

    id: Annotated[
        str,
        said("The order id (a keyed digest of `reference_id`).", ORDER_ID_EXAMPLE),
    ]
    reference_id: Annotated[str, said("The caller's idempotency key of the create.", "ref-1")]
    status: Annotated[
        OrderStatus,
        said("Where the order is; `completed`: the tokens are in the wallet.", "pending"),
    ]
    pool_id: Annotated[str, said("The liquidity pool the tokens come from.", "pool-1")]
    token_symbol: Annotated[str, said("The token bought.", "USDC")]
    amount_token: Annotated[str, said("Tokens bought, a decimal string.", "12.50")]
    min_amount_token_receive: Annotated[
        str, said("The fewest tokens the buyer accepts, a decimal string.", "12.40")
    ]
    price_tolerance_percent: Annotated[
        str, said("The price move tolerated, in percent, a decimal string.", "1.5")
    ]
    fiat_currency: Annotated[str, said("The currency paid in, ISO 4217.", "EUR")]
    price_fiat: Annotated[str, said("The price paid, a decimal string.", "13.10")]
    passkey: Annotated[PasskeyView, said("The buyer's passkey.")]
    smart_wallet_address: Annotated[
        str | None, said("The buyer's smart wallet, once known.", "wallet_0x01")
    ]
    payment: Annotated[PaymentView, said("The gateway's payment of this order.")]
    transfer: Annotated[TransferView | None, said("The token transfer, once made.")]
    created_at: Annotated[str, when("When the order was created.", "2026-03-01T12:00:00.000Z")]
    updated_at: Annotated[str, when("When the order last changed.", "2026-03-01T12:01:00.000Z")]
    history: Annotated[list[HistoryLineView], said("Every status move of the order, oldest first.")]
    refund: Annotated[
        BuyerRefundView | None,
        said("The order's refund, if its money goes back (then nothing more is delivered)."),
    ]
    client_secret: Annotated[
        str | None,
        said(
            "A guest's new order only (`GUEST_CHECKOUT`), in the first answer to its create and "
            "never again: send it with every read of the order (`?client_secret=` or the "
            "`X-Client-Secret` header). Null otherwise.",
            None,
        ),
    ] = None

    @classmethod
    def of(cls, order: Order, client_secret: str | None = None) -> OrderView:
        # The request's fields straight from it, not through the order's properties, and the
        # statuses as they are (a StrEnum is the str it encodes to): a third of the view's cost,
        # on every answer of the API.
        request = order.request
        passkey = request.passkey
        payment = order.payment
        transfer = order.transfer
        return cls(
            id=order.id,
            reference_id=request.reference_id,
            status=order.status,
            pool_id=request.pool_id,
            token_symbol=request.token_symbol,
            amount_token=_decimal(request.amount_token),
            min_amount_token_receive=_decimal(request.min_amount_token_receive),
            price_tolerance_percent=_decimal(request.price_tolerance_percent),
            fiat_currency=request.fiat_currency,
            price_fiat=_decimal(request.price_fiat),
            passkey=PasskeyView(credential_id=passkey.credential_id),
            smart_wallet_address=order.smart_wallet_address,
            payment=PaymentView(
                id=payment.id,
                checkout_url=payment.checkout_url,
                # Documented as the enum; the gateway adapter only answers its values.
                status=cast(PaymentState, payment.status),
                amount=_decimal(payment.amount),
                currency=payment.currency,
                created_at=ms_text_or_none(payment.created_at),
                expires_at=ms_text_or_none(payment.expires_at),
                pay_address=payment.pay_address,
                pay_amount=None if payment.pay_amount is None else _decimal(payment.pay_amount),
                pay_currency=payment.pay_currency,
                paid_amount=None if payment.paid_amount is None else _decimal(payment.paid_amount),
                paid_currency=payment.paid_currency,
            ),
            transfer=None
            if transfer is None
            else TransferView(
                transfer_id=transfer.transfer_id,
                status=cast(TransferState, transfer.status),
                tx_signature=transfer.tx_signature,
                amount_out=None if transfer.amount_out is None else _decimal(transfer.amount_out),
            ),
            created_at=ms_text(order.created_at),
            updated_at=ms_text(order.updated_at),
            history=[HistoryLineView(status=c.status, at=ms_text(c.at)) for c in order.history],
            refund=BuyerRefundView.of_order(order),
            client_secret=client_secret,
        )


class EventWebhookData(msgspec.Struct, frozen=True):
    order: OrderView


class EventWebhookBody(msgspec.Struct, frozen=True):
    """The merchant webhook's body (docs/events.md): the event, with ``data.order`` the order as
    ``GET /api/orders/{id}`` shows it right after the event."""

    id: str
    type: str
    created_at: str
    order_id: str
    sequence: int
    data: EventWebhookData


_webhook_encoder = msgspec.json.Encoder()


def event_webhook_body(event: OrderEvent, order: Order) -> bytes:
    """The webhook's raw body for ``event``; ``order`` is the order as it stood after it."""
    return _webhook_encoder.encode(
        EventWebhookBody(
            id=event.id,
            type=event.type.value,
            created_at=ms_text(event.at),
            order_id=event.order_id,
            sequence=event.sequence,
            data=EventWebhookData(order=OrderView.of(order)),
        )
    )


def _decimal(value: Decimal) -> str:
    """Plain notation, never an exponent: what the buyer sent comes back as they wrote it.
    ``str()`` already is plain for every amount but the tiniest (it answers ``1E-7`` below
    1e-6) and costs a fifth of ``format(value, "f")``, which the rest fall back to."""
    text = str(value)
    return f"{value:f}" if "E" in text or "e" in text else text


# --- the payment webhook --------------------------------------------------------------------


class PaymentEventData(msgspec.Struct, frozen=True):
    payment_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256, examples=["pay_000001"])]
    status: Annotated[str, msgspec.Meta(examples=["completed"])]


class PaymentWebhookBody(msgspec.Struct, frozen=True):
    """The gateway's event. Unknown fields are ignored, not refused: the gateway may add some, and
    it redelivers every non-2xx answer forever. The body is a hint only; the order is advanced
    from the gateway's ``GET /v1/payments/{id}``."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=256, examples=["evt_000001"])]
    type: Annotated[str, msgspec.Meta(examples=["payment.updated"])]
    created_at: Annotated[str, msgspec.Meta(examples=["2026-01-01T00:00:00Z"])]
    data: PaymentEventData


class WebhookAck(msgspec.Struct, frozen=True, omit_defaults=True):
    """What became of the event: ``accepted`` (the order is being advanced), ``duplicate`` (seen
    and handled before) or ``ignored`` (an event type this service does not act on)."""

    event_id: Annotated[str, said("The event's id.", "evt_000001")]
    outcome: Annotated[
        Literal["accepted", "duplicate", "ignored"], said("What became of it.", "accepted")
    ]
    order_id: Annotated[
        str | None,
        said("The order being advanced (only when accepted).", ORDER_ID_EXAMPLE),
    ] = None


# --- probes ---------------------------------------------------------------------------------


class Health(msgspec.Struct, frozen=True):
    """The process answers."""

    status: Annotated[Literal["ok"], said("Always `ok`.", "ok")]


class WriteConcernView(msgspec.Struct, frozen=True):
    """The write concern the service asks MongoDB for, and whether it can get it now (as the
    driver's monitor last saw the deployment, every 10 s; no command is sent for it)."""

    requested: Annotated[str, said("The client's write concern.", "w=majority, j=true")]
    topology: Annotated[
        str,
        said("`replica set <name>`, `standalone`, `sharded` or `unknown`.", "replica set rs0"),
    ]
    members: Annotated[int | None, said("Data-bearing members (replica sets).", 3)]
    members_up: Annotated[int | None, said("Of which answering.", 3)]
    majority_available: Annotated[
        bool | None,
        said(
            "A majority of the members answers and one is primary (null: not a replica set). "
            "False while the service asks for majority makes `/ready` a 503.",
            True,
        ),
    ]


class Readiness(msgspec.Struct, frozen=True):
    """The repository and the queue answer."""

    status: Annotated[Literal["ready"], said("Always `ready` (not ready is a 503).", "ready")]
    checks: Annotated[
        dict[str, str],
        said("Each dependency and its state (`ok`).", {"repository": "ok", "queue": "ok"}),
    ]
    adapters: Annotated[
        dict[str, str],
        said(
            "The kind of each adapter: `mongo`/`memory`, `http`/`fake`, `saq`/`inprocess`.",
            {"repository": "mongo", "payment_gateway": "http", "queue": "saq"},
        ),
    ]
    write_concern: Annotated[
        WriteConcernView | None,
        said("MongoDB's write concern and its availability (null with the in-memory store)."),
    ] = None
