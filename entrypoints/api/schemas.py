"""The wire format of the API: msgspec Structs, snake_case, amounts as decimal strings.

Requests are checked twice on purpose: the Struct constraints (types, lengths, the shape of a
decimal string) are what the OpenAPI schema documents and what msgspec rejects while decoding; the
domain's ``OrderRequest`` then checks the rules (positive, bounded, precision, min ≤ amount, the
tolerance range) and names the field in its ``InvalidOrder``. Nothing here is trusted past
:meth:`CreateOrderBody.to_order_request`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from domain import Order, OrderRequest, Passkey

#: A decimal string: digits, an optional fraction, an optional minus sign (so that "-1" gets the
#: domain's "must be greater than 0" instead of a regex message). No exponent, NaN or Infinity.
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"

DecimalString = Annotated[
    str,
    msgspec.Meta(
        pattern=DECIMAL_PATTERN,
        max_length=64,
        description="A decimal number as a string (no exponent, NaN or Infinity).",
        examples=["12.50"],
    ),
]
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Currency = Annotated[
    str,
    msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, upper case.", examples=["EUR"]),
]


class PasskeyBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The buyer's passkey; the smart wallet is derived from it."""

    credential_id: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    public_key: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]


class CreateOrderBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``POST /api/orders``. ``reference_id`` is the idempotency key: the same body under it
    replays the order, another body conflicts (409)."""

    reference_id: Identifier
    pool_id: Identifier
    token_symbol: Annotated[str, msgspec.Meta(min_length=1, max_length=32, examples=["USDC"])]
    amount_token: DecimalString
    min_amount_token_receive: DecimalString
    price_tolerance_percent: DecimalString
    fiat_currency: Currency
    price_fiat: DecimalString
    passkey: PasskeyBody
    smart_wallet_address: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    return_url: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=2048,
                description="Where the gateway's checkout page sends the buyer after paying or "
                "failing, with `payment_id` and `status` in the query. Its origin must be one of "
                "`CORS_ALLOWED_ORIGINS` (400 otherwise).",
                examples=["http://127.0.0.1:8010/shop"],
            ),
        ]
        | None
    ) = None

    def to_order_request(self) -> OrderRequest:
        """The domain's request; ``InvalidOrder`` (naming the field) when a rule is broken."""
        return OrderRequest(
            reference_id=self.reference_id,
            pool_id=self.pool_id,
            token_symbol=self.token_symbol,
            # The pattern above guarantees Decimal() parses these exactly.
            amount_token=Decimal(self.amount_token),
            min_amount_token_receive=Decimal(self.min_amount_token_receive),
            price_tolerance_percent=Decimal(self.price_tolerance_percent),
            fiat_currency=self.fiat_currency,
            price_fiat=Decimal(self.price_fiat),
            passkey=Passkey(
                credential_id=self.passkey.credential_id, public_key=self.passkey.public_key
            ),
            smart_wallet_address=self.smart_wallet_address,
            return_url=self.return_url,
        )


# --- answers -----------------------------------------------------------------------------


class PaymentView(msgspec.Struct, frozen=True):
    """The gateway's payment: where to send the buyer, and its last known status."""

    id: str
    token: str
    checkout_url: str
    status: str
    amount: str
    currency: str
    created_at: datetime | None
    expires_at: datetime | None


class PasskeyView(msgspec.Struct, frozen=True):
    credential_id: str
    public_key: str


class TransferView(msgspec.Struct, frozen=True):
    """The one token transfer of the order."""

    transfer_id: str
    status: str
    tx_signature: str | None
    amount_out: str | None


class StatusChangeView(msgspec.Struct, frozen=True):
    status: str
    at: datetime
    reason: str


class OrderView(msgspec.Struct, frozen=True):
    """An order with its status, payment, wallet, transfer and status history."""

    id: str
    reference_id: str
    status: str
    pool_id: str
    token_symbol: str
    amount_token: str
    min_amount_token_receive: str
    price_tolerance_percent: str
    fiat_currency: str
    price_fiat: str
    passkey: PasskeyView
    smart_wallet_address: str | None
    payment: PaymentView
    transfer: TransferView | None
    parked: bool
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    history: list[StatusChangeView]

    @classmethod
    def of(cls, order: Order) -> OrderView:
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
            passkey=PasskeyView(credential_id=passkey.credential_id, public_key=passkey.public_key),
            smart_wallet_address=order.smart_wallet_address,
            payment=PaymentView(
                id=payment.id,
                token=payment.token,
                checkout_url=payment.checkout_url,
                status=payment.status,
                amount=_decimal(payment.amount),
                currency=payment.currency,
                created_at=payment.created_at,
                expires_at=payment.expires_at,
            ),
            transfer=None
            if transfer is None
            else TransferView(
                transfer_id=transfer.transfer_id,
                status=transfer.status,
                tx_signature=transfer.tx_signature,
                amount_out=None if transfer.amount_out is None else _decimal(transfer.amount_out),
            ),
            parked=order.parked,
            last_error=order.last_error,
            created_at=order.created_at,
            updated_at=order.updated_at,
            history=[
                StatusChangeView(status=c.status, at=c.at, reason=c.reason) for c in order.history
            ],
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

    event_id: str
    outcome: str
    order_id: str | None = None


# --- probes ---------------------------------------------------------------------------------


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    checks: dict[str, str]
