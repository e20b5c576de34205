"""An in-process payment gateway that keeps the onecheckout contract's idempotency rules."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

from adapters.fakes.faults import FaultPlan, raise_after_effect, raise_before_effect
from application.errors import IdempotencyKeyReused, NotRefundable, PermanentDownstreamError
from application.ports import (
    Clock,
    CreatedPayment,
    GatewayRefund,
    PaymentRequest,
    PaymentSnapshot,
    PaymentState,
    RefundState,
)

SERVICE = "payment_gateway"


@dataclasses.dataclass(slots=True)
class StoredPayment:
    """A payment the fake gateway made, with the request that made it and where it stands."""

    created: CreatedPayment
    request: PaymentRequest
    status: PaymentState = PaymentState.PENDING
    paid_amount: Decimal | None = None
    paid_currency: str | None = None
    paid_at: datetime | None = None
    #: A crypto gateway's under-payment: (sent, its currency, asked).
    sent: tuple[Decimal, str, Decimal] | None = None


@dataclasses.dataclass(slots=True)
class StoredRefund:
    key: str
    amount: Decimal
    reason: str
    refund: GatewayRefund


class FakePaymentGateway:
    """Same key and body: the same payment again. Same key, other body: ``IdempotencyKeyReused``.
    Tests settle payments with :meth:`complete`, :meth:`fail` and :meth:`expire`."""

    def __init__(
        self,
        clock: Clock,
        faults: FaultPlan | None = None,
        *,
        checkout_base_url: str = "http://127.0.0.1:8010/checkout",
        payment_ttl: timedelta = timedelta(minutes=30),
    ) -> None:
        self._clock = clock
        self.faults = faults or FaultPlan()
        self._checkout_base_url = checkout_base_url.rstrip("/")
        self._ttl = payment_ttl
        self.payments: dict[str, StoredPayment] = {}
        self._by_key: dict[str, str] = {}
        self.create_calls = 0
        self.replays = 0
        self.status_calls = 0
        #: Refunds by idempotency key; ``refund_outcome`` is the status a new one answers with
        #: (``pending`` ones settle with :meth:`settle_refunds`).
        self.refunds: dict[str, StoredRefund] = {}
        self.refund_outcome = RefundState.SUCCEEDED
        self.refund_calls = 0

    async def create_payment(
        self, request: PaymentRequest, *, idempotency_key: str
    ) -> CreatedPayment:
        self.create_calls += 1
        await asyncio.sleep(0)  # a yield point, as real I/O has: lets races interleave
        fault = self.faults.next("create_payment")
        raise_before_effect(SERVICE, fault)
        payment_id = self._by_key.get(idempotency_key)
        if payment_id is not None:
            stored = self.payments[payment_id]
            if stored.request != request:
                raise IdempotencyKeyReused(SERVICE, "409 idempotency_key_reused")
            self.replays += 1
        else:
            number = len(self.payments) + 1
            payment_id = f"pay_{number:06d}"
            now = self._clock.now()
            created = CreatedPayment(
                id=payment_id,
                token=f"tok_{number:06d}",
                checkout_url=f"{self._checkout_base_url}/{payment_id}",
                status=PaymentState.PENDING.value,
                amount=request.amount,
                currency=request.currency,
                created_at=now,
                expires_at=now + self._ttl,
            )
            self.payments[payment_id] = StoredPayment(created=created, request=request)
            self._by_key[idempotency_key] = payment_id
            stored = self.payments[payment_id]
        raise_after_effect(SERVICE, fault)
        return stored.created

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        self.status_calls += 1
        await asyncio.sleep(0)  # a yield point, as real I/O has: lets races interleave
        raise_before_effect(SERVICE, self.faults.next("get_payment"))
        stored = self.payments.get(payment_id)
        if stored is None:
            raise PermanentDownstreamError(SERVICE, f"404 payment {payment_id} not found")
        return PaymentSnapshot(
            id=payment_id,
            status=stored.status,
            amount=stored.paid_amount if stored.paid_amount is not None else stored.created.amount,
            currency=stored.paid_currency or stored.created.currency,
            paid_at=stored.paid_at,
            paid_amount=None if stored.sent is None else stored.sent[0],
            paid_currency=None if stored.sent is None else stored.sent[1],
            pay_amount=None if stored.sent is None else stored.sent[2],
        )

    async def refund_payment(
        self, payment_id: str, amount: Decimal, reason: str, *, idempotency_key: str
    ) -> GatewayRefund:
        self.refund_calls += 1
        await asyncio.sleep(0)  # a yield point, as real I/O has: lets races interleave
        fault = self.faults.next("refund_payment")
        raise_before_effect(SERVICE, fault)
        existing = self.refunds.get(idempotency_key)
        if existing is not None:
            if existing.refund.payment_id != payment_id or existing.amount != amount:
                raise IdempotencyKeyReused(SERVICE, "409 idempotency_key_reused")
        else:
            stored = self.payments.get(payment_id)
            if stored is None:
                raise PermanentDownstreamError(SERVICE, f"404 payment {payment_id} not found")
            if stored.status is not PaymentState.COMPLETED:
                raise NotRefundable(SERVICE, "409 not_refundable")
            paid = stored.paid_amount if stored.paid_amount is not None else stored.created.amount
            if amount > paid:
                raise PermanentDownstreamError(SERVICE, f"400 amount {amount} above paid {paid}")
            refund = GatewayRefund(
                id=f"rf_{len(self.refunds) + 1:06d}",
                payment_id=payment_id,
                status=self.refund_outcome,
                amount=amount,
                failure_reason="declined by the issuer"
                if self.refund_outcome is RefundState.FAILED
                else None,
            )
            existing = StoredRefund(idempotency_key, amount, reason, refund)
            self.refunds[idempotency_key] = existing
        raise_after_effect(SERVICE, fault)
        return existing.refund

    async def get_refund(self, refund_id: str) -> GatewayRefund:
        await asyncio.sleep(0)
        raise_before_effect(SERVICE, self.faults.next("get_refund"))
        for stored in self.refunds.values():
            if stored.refund.id == refund_id:
                return stored.refund
        raise PermanentDownstreamError(SERVICE, f"404 refund {refund_id} not found")

    def settle_refunds(self, status: RefundState = RefundState.SUCCEEDED) -> None:
        """Settle every ``pending`` refund to ``status``."""
        for stored in self.refunds.values():
            if stored.refund.status is RefundState.PENDING:
                stored.refund = dataclasses.replace(
                    stored.refund,
                    status=status,
                    failure_reason="declined by the issuer"
                    if status is RefundState.FAILED
                    else None,
                )

    # --- the buyer's side, for tests ---
    def complete(
        self,
        payment_id: str,
        *,
        amount: Decimal | None = None,
        currency: str | None = None,
        late: bool = False,
    ) -> None:
        """The buyer pays (``amount``/``currency``: something else than asked). ``late``: the
        bank settles after the expiry, even of a payment already ``expired`` or ``failed``."""
        stored = self.payments[payment_id]
        expires_at = stored.created.expires_at
        if (
            not late
            and stored.status is PaymentState.PENDING
            and expires_at is not None
            and self._clock.now() > expires_at
        ):
            stored.status = PaymentState.EXPIRED  # too late: an expired checkout takes no money
        if stored.status is PaymentState.PENDING or (
            late and stored.status in (PaymentState.EXPIRED, PaymentState.FAILED)
        ):
            stored.status = PaymentState.COMPLETED
            stored.paid_amount = amount
            stored.paid_currency = currency
            stored.paid_at = self._clock.now()

    def underpay(self, payment_id: str, sent: Decimal, currency: str, asked: Decimal) -> None:
        """The buyer sent ``sent`` of the ``asked`` (a crypto gateway's ``partially_paid``): the
        payment stays pending."""
        self.payments[payment_id].sent = (sent, currency, asked)

    def fail(self, payment_id: str) -> None:
        stored = self.payments[payment_id]
        if stored.status is PaymentState.PENDING:
            stored.status = PaymentState.FAILED

    def expire(self, payment_id: str) -> None:
        stored = self.payments[payment_id]
        if stored.status is PaymentState.PENDING:
            stored.status = PaymentState.EXPIRED
