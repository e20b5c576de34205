"""The payment gateway ("onecheckout" contract)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class PaymentState(StrEnum):
    """Where a payment stands at the gateway (the API shows it as the order's payment status)."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """The body of ``POST /v1/payments``; equal requests under one key replay."""

    reference_id: str
    amount: Decimal
    currency: str
    description: str
    order_id: str
    pool_id: str
    #: The checkout page sends the buyer here after paying or failing (None: it does not).
    return_url: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedPayment:
    """A created payment. ``amount``/``currency`` are the price asked (the order's fiat price).

    A gateway with a hosted page gives ``checkout_url``; one without (NOWPayments) leaves it None
    and says what the buyer must send: ``pay_amount`` of ``pay_currency`` to ``pay_address``.
    """

    id: str
    token: str
    checkout_url: str | None
    status: str
    amount: Decimal
    currency: str
    created_at: datetime
    expires_at: datetime | None
    pay_address: str | None = None
    pay_amount: Decimal | None = None
    pay_currency: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentSnapshot:
    """A payment as the gateway reports it at the time of asking (``paid_at``: when it was paid,
    if the gateway says). A crypto gateway (NOWPayments) also tells what the buyer has sent so
    far, ``paid_amount`` of ``paid_currency``, against the ``pay_amount`` asked: more than
    nothing and less than asked is an under-payment (not paid)."""

    id: str
    status: PaymentState
    amount: Decimal
    currency: str
    paid_at: datetime | None
    paid_amount: Decimal | None = None
    paid_currency: str | None = None
    pay_amount: Decimal | None = None

    @property
    def underpaid(self) -> bool:
        """Money arrived, less than asked, and the payment is not complete."""
        return (
            self.status is not PaymentState.COMPLETED
            and self.paid_amount is not None
            and self.paid_currency is not None
            and self.paid_amount > 0
            and (self.pay_amount is None or self.paid_amount < self.pay_amount)
        )


class RefundState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class GatewayRefund:
    """A refund as the gateway tells it (``POST /v1/payments/{id}/refunds``, ``GET
    /v1/refunds/{id}``)."""

    id: str
    payment_id: str
    status: RefundState
    amount: Decimal
    failure_reason: str | None


class PaymentGateway(Protocol):
    """Creates payments and tells their real status (a webhook body is only a hint)."""

    async def create_payment(
        self, request: PaymentRequest, *, idempotency_key: str
    ) -> CreatedPayment:
        """Create (or replay) the payment; ``IdempotencyKeyReused`` on a different body."""

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        """The payment's status now; ``PermanentDownstreamError`` if the gateway lacks it."""

    async def refund_payment(
        self, payment_id: str, amount: Decimal, reason: str, *, idempotency_key: str
    ) -> GatewayRefund:
        """Refund (part of) a completed payment, at most once per key: the same key answers
        the refund already made. ``NotRefundable`` if the payment never completed."""

    async def get_refund(self, refund_id: str) -> GatewayRefund:
        """The refund now; ``PermanentDownstreamError`` if the gateway lacks it."""
