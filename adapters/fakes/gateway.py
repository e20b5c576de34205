"""An in-process payment gateway that keeps the onecheckout contract's idempotency rules."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

from adapters.fakes.faults import FaultPlan, raise_after_effect, raise_before_effect
from application.errors import IdempotencyKeyReused, PermanentDownstreamError
from application.ports import Clock, CreatedPayment, PaymentRequest, PaymentSnapshot, PaymentState

SERVICE = "payment_gateway"


@dataclasses.dataclass(slots=True)
class StoredPayment:
    """A payment the fake gateway made, with the request that made it and where it stands."""

    created: CreatedPayment
    request: PaymentRequest
    status: PaymentState = PaymentState.PENDING
    paid_amount: Decimal | None = None
    paid_at: datetime | None = None
    #: A crypto gateway's under-payment: (sent, its currency, asked).
    sent: tuple[Decimal, str, Decimal] | None = None


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
            currency=stored.created.currency,
            paid_at=stored.paid_at,
            paid_amount=None if stored.sent is None else stored.sent[0],
            paid_currency=None if stored.sent is None else stored.sent[1],
            pay_amount=None if stored.sent is None else stored.sent[2],
        )

    # --- the buyer's side, for tests ---
    def complete(self, payment_id: str, *, amount: Decimal | None = None) -> None:
        stored = self.payments[payment_id]
        expires_at = stored.created.expires_at
        if (
            stored.status is PaymentState.PENDING
            and expires_at is not None
            and self._clock.now() > expires_at
        ):
            stored.status = PaymentState.EXPIRED  # too late: an expired checkout takes no money
        if stored.status is PaymentState.PENDING:
            stored.status = PaymentState.COMPLETED
            stored.paid_amount = amount
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
