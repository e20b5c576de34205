"""The three contracts' bodies as msgspec Structs, and their mapping to the ports' types.

Amounts travel as decimal strings, both ways: a JSON number is refused (it may have been a float
on the other side), as are NaN and infinities. Times must carry a timezone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

import msgspec

from application.ports import (
    CreatedPayment,
    GatewayRefund,
    PaymentRequest,
    PaymentSnapshot,
    PaymentState,
    RefundState,
    Transfer,
    TransferRequest,
    TransferState,
    Wallet,
)
from domain import grammar, to_milliseconds
from domain.grammar import canonical_decimal

AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


def _ms(moment: datetime) -> datetime:
    """A vendor's time at the service's one precision (whole milliseconds, UTC)."""
    return to_milliseconds(moment.astimezone(UTC))


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


def decimal_text(value: Decimal) -> str:
    """A Decimal as the contract's string: never in exponent notation ("1E+2" is "100") and one
    spelling per value ("300000.00" is "300000"), so that a body, and the downstream's
    idempotency check of it, depend on the amounts and not on how a caller wrote them."""
    if not value.is_finite():
        raise ValueError(f"amount {value} is not a finite number")
    return format(canonical_decimal(value), "f")


def parse_amount(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{field} {text!r} is not a decimal string") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"{field} {text!r} is not a finite, non-negative amount")
    return value


# --- payment gateway ---


class PaymentMetadata(msgspec.Struct):
    order_id: str
    pool_id: str


class CreatePaymentBody(msgspec.Struct, omit_defaults=True):
    reference_id: str
    amount: str
    currency: str
    description: str
    metadata: PaymentMetadata
    #: Left out when None: a gateway that predates the field sees the body it always saw.
    return_url: str | None = None

    @classmethod
    def of(cls, request: PaymentRequest) -> CreatePaymentBody:
        return cls(
            reference_id=request.reference_id,
            amount=decimal_text(request.amount),
            currency=request.currency,
            description=request.description,
            metadata=PaymentMetadata(order_id=request.order_id, pool_id=request.pool_id),
            return_url=request.return_url,
        )


class CreatedPaymentAnswer(msgspec.Struct):
    id: NonEmpty
    token: str
    checkout_url: NonEmpty
    status: PaymentState
    amount: str
    currency: NonEmpty
    created_at: AwareDatetime
    expires_at: AwareDatetime

    def to_port(self) -> CreatedPayment:
        return CreatedPayment(
            id=self.id,
            token=self.token,
            checkout_url=self.checkout_url,
            status=self.status.value,
            amount=parse_amount(self.amount, "amount"),
            currency=self.currency,
            created_at=_ms(self.created_at),
            expires_at=_ms(self.expires_at),
        )


class PaymentStatusAnswer(msgspec.Struct):
    id: NonEmpty
    status: PaymentState
    amount: str
    currency: NonEmpty
    paid_at: AwareDatetime | None

    def to_port(self) -> PaymentSnapshot:
        return PaymentSnapshot(
            id=self.id,
            status=self.status,
            amount=parse_amount(self.amount, "amount"),
            currency=self.currency,
            paid_at=None if self.paid_at is None else _ms(self.paid_at),
        )


class RefundBody(msgspec.Struct):
    amount: str
    reason: str

    @classmethod
    def of(cls, amount: Decimal, reason: str) -> RefundBody:
        return cls(amount=decimal_text(amount), reason=reason)


class RefundAnswer(msgspec.Struct):
    id: NonEmpty
    payment_id: NonEmpty
    status: RefundState
    amount: str
    failure_reason: str | None = None

    def to_port(self) -> GatewayRefund:
        return GatewayRefund(
            id=self.id,
            payment_id=self.payment_id,
            status=self.status,
            amount=parse_amount(self.amount, "amount"),
            failure_reason=self.failure_reason,
        )


# --- wallet service ---


class CreateWalletBody(msgspec.Struct):
    passkey_credential_id: str
    passkey_public_key: str


#: A wallet address becomes a transfer destination: the same grammar as the buyer's own.
WalletAddress = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=grammar.WALLET_ADDRESS.max_length,
        pattern=grammar.WALLET_ADDRESS.wire_pattern,
    ),
]


class WalletAnswer(msgspec.Struct):
    address: WalletAddress
    created: bool

    def to_port(self) -> Wallet:
        return Wallet(address=self.address, created=self.created)


# --- token transfer service ---


class CreateTransferBody(msgspec.Struct):
    destination: str
    pool_id: str
    token_symbol: str
    amount: str
    min_amount_out: str
    slippage_percent: str

    @classmethod
    def of(cls, request: TransferRequest) -> CreateTransferBody:
        return cls(
            destination=request.destination,
            pool_id=request.pool_id,
            token_symbol=request.token_symbol,
            amount=decimal_text(request.amount),
            min_amount_out=decimal_text(request.min_amount_out),
            slippage_percent=decimal_text(request.slippage_percent),
        )


class TransferAnswer(msgspec.Struct):
    id: NonEmpty
    status: TransferState
    tx_signature: str | None
    amount_out: str | None
    failure_reason: str | None

    def to_port(self) -> Transfer:
        return Transfer(
            id=self.id,
            status=self.status,
            tx_signature=self.tx_signature,
            amount_out=None
            if self.amount_out is None
            else parse_amount(self.amount_out, "amount_out"),
            failure_reason=self.failure_reason,
        )


encoder = msgspec.json.Encoder()
created_payment_decoder = msgspec.json.Decoder(CreatedPaymentAnswer)
payment_status_decoder = msgspec.json.Decoder(PaymentStatusAnswer)
refund_decoder = msgspec.json.Decoder(RefundAnswer)
wallet_decoder = msgspec.json.Decoder(WalletAnswer)
transfer_decoder = msgspec.json.Decoder(TransferAnswer)
