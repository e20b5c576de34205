"""The sandbox's books of the three contract vendors (payment gateway, wallet service, token
transfer service): what each has made, under which idempotency key, and what a replay answers.

**Deliberately separate from the service.** The service's in-process fakes
(``adapters/fakes/``) keep the same rules for the use-case tests; these books are written again
from the contracts (docs/contracts.md) and import nothing of ``domain/``, ``application/`` or
``adapters/``, so that the HTTP adapters are tested against an implementation that does not share
their (or the fakes') reading of the contracts. Statuses are the contracts' strings.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

#: ``status`` of a gateway payment, as the contract spells it.
PENDING, COMPLETED, FAILED, EXPIRED = "pending", "completed", "failed", "expired"
#: ``status`` of a transfer, as the contract spells it.
SUBMITTED, CONFIRMED = "submitted", "confirmed"
#: ``status`` of a refund, as the contract spells it (``failed`` as for a payment).
SUCCEEDED = "succeeded"
#: The failure reasons the sandbox gives.
DECLINED = "declined by the issuer"
REVERTED = "reverted on chain"
#: How long a checkout stays payable.
PAYMENT_TTL = timedelta(minutes=30)


def now_ms() -> datetime:
    """UTC now, cut to whole milliseconds (what the contract's timestamps carry)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class KeyReused(Exception):
    """The idempotency key was used before with another body (the contract's 409)."""


class NotRefundable(Exception):
    """The payment never completed: nothing to refund (the contract's 409 ``not_refundable``)."""


class AboveAmountPaid(Exception):
    """A refund of more than was paid (a 400)."""


@dataclass(frozen=True, slots=True)
class PaymentOrder:
    """The body of ``POST /v1/payments``: equal bodies under one key are a replay."""

    reference_id: str
    amount: Decimal
    currency: str
    description: str
    order_id: str
    pool_id: str
    return_url: str | None


@dataclass(slots=True)
class Payment:
    """A payment as the gateway keeps it."""

    id: str
    token: str
    order: PaymentOrder
    created_at: datetime
    expires_at: datetime
    status: str = PENDING
    paid_amount: Decimal | None = None
    #: The currency paid in, when not the one asked.
    paid_currency: str | None = None
    paid_at: datetime | None = None

    @property
    def paid(self) -> Decimal:
        """What was paid (or is asked, until paid)."""
        return self.paid_amount if self.paid_amount is not None else self.order.amount

    @property
    def currency(self) -> str:
        return self.paid_currency or self.order.currency


@dataclass(slots=True)
class Refund:
    """A refund as the gateway keeps it, under the key it was asked with."""

    key: str
    id: str
    payment_id: str
    amount: Decimal
    reason: str
    status: str
    failure_reason: str | None = None


class PaymentBook:
    """Payments by id and by idempotency key; the buyer's side settles them."""

    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}
        self._by_key: dict[str, str] = {}
        #: Creates answered with the payment already made under their key.
        self.replays = 0
        #: Refunds by idempotency key, and their ids.
        self.refunds: dict[str, Refund] = {}
        self._refund_ids: dict[str, str] = {}

    def create(self, order: PaymentOrder, *, key: str) -> Payment:
        """The payment made under ``key`` (a new one the first time); :class:`KeyReused` when
        the key was used with another body."""
        known = self._by_key.get(key)
        if known is not None:
            payment = self.payments[known]
            if payment.order != order:
                raise KeyReused(key)
            self.replays += 1
            return payment
        number = len(self.payments) + 1
        now = now_ms()
        payment = Payment(
            id=f"pay_{number:06d}",
            token=f"tok_{number:06d}",
            order=order,
            created_at=now,
            expires_at=now + PAYMENT_TTL,
        )
        self.payments[payment.id] = payment
        self._by_key[key] = payment.id
        return payment

    def complete(
        self,
        payment: Payment,
        amount: Decimal | None,
        *,
        currency: str | None = None,
        late: bool = False,
    ) -> None:
        """Paid (``amount``/``currency``: other than asked). Too late for an expired checkout,
        unless ``late``: the bank settles after the expiry, even a payment already ``expired``
        or ``failed``."""
        if not late and payment.status == PENDING and now_ms() > payment.expires_at:
            payment.status = EXPIRED
        if payment.status == PENDING or (late and payment.status in (EXPIRED, FAILED)):
            payment.status = COMPLETED
            payment.paid_amount = amount
            payment.paid_currency = currency
            payment.paid_at = now_ms()

    def refund(
        self, payment: Payment, amount: Decimal, reason: str, *, key: str, outcome: str
    ) -> Refund:
        """The refund made under ``key`` (a new one, answering ``outcome``, the first time);
        :class:`KeyReused` for another payment or amount under the key, :class:`NotRefundable`
        for a payment not completed, :class:`AboveAmountPaid` beyond what was paid."""
        known = self.refunds.get(key)
        if known is not None:
            if known.payment_id != payment.id or known.amount != amount:
                raise KeyReused(key)
            return known
        if payment.status != COMPLETED:
            raise NotRefundable(payment.id)
        if amount > payment.paid:
            raise AboveAmountPaid(f"{amount} is more than the {payment.paid} paid")
        refund = Refund(
            key=key,
            id=f"rf_{len(self.refunds) + 1:06d}",
            payment_id=payment.id,
            amount=amount,
            reason=reason,
            status=outcome,
            failure_reason=DECLINED if outcome == FAILED else None,
        )
        self.refunds[key] = refund
        self._refund_ids[refund.id] = key
        return refund

    def refund_by_id(self, refund_id: str) -> Refund | None:
        key = self._refund_ids.get(refund_id)
        return None if key is None else self.refunds[key]

    def settle_refunds(self, status: str) -> None:
        """Every ``pending`` refund to ``status`` (``succeeded`` or ``failed``)."""
        for refund in self.refunds.values():
            if refund.status == PENDING:
                refund.status = status
                refund.failure_reason = DECLINED if status == FAILED else None

    @staticmethod
    def close(payment: Payment, status: str) -> None:
        """``failed`` or ``expired``, if still pending."""
        if payment.status == PENDING:
            payment.status = status


def wallet_address(credential_id: str) -> str:
    """The smart-wallet address the sandbox gives a passkey credential (the same every time)."""
    return "0x" + hashlib.sha256(credential_id.encode()).hexdigest()[:40]


class WalletBook:
    """One wallet per passkey credential; a second create answers ``created: false``."""

    def __init__(self) -> None:
        self.wallets: dict[str, str] = {}

    def create(self, credential_id: str) -> tuple[str, bool]:
        """``(address, created)``."""
        if credential_id in self.wallets:
            return self.wallets[credential_id], False
        address = self.wallets[credential_id] = wallet_address(credential_id)
        return address, True


@dataclass(frozen=True, slots=True)
class TransferOrder:
    """The body of ``POST /v1/transfers``."""

    destination: str
    pool_id: str
    token_symbol: str
    amount: Decimal
    min_amount_out: Decimal
    slippage_percent: Decimal


@dataclass(slots=True)
class Transfer:
    """A transfer as the service keeps it, under the key it was sent with."""

    key: str
    id: str
    order: TransferOrder
    status: str
    tx_signature: str | None
    #: Tokens received: the amount sent unless it fell short (None when it failed).
    amount_out: Decimal | None = None
    failure_reason: str | None = None


class TransferBook:
    """At most one transfer per idempotency key: a second send answers the first transfer."""

    def __init__(self) -> None:
        self.transfers: dict[str, Transfer] = {}
        #: Sends answered with the transfer already made under their key.
        self.duplicates_refused = 0

    def send(self, order: TransferOrder, *, key: str, confirm: bool) -> Transfer:
        """The transfer under ``key``; a new one is ``confirmed`` at once when ``confirm``,
        else ``submitted`` until :meth:`confirm_all`."""
        known = self.transfers.get(key)
        if known is not None:
            self.duplicates_refused += 1
            return known
        number = len(self.transfers) + 1
        transfer = Transfer(
            key=key,
            id=f"tr_{number:06d}",
            order=order,
            status=CONFIRMED if confirm else SUBMITTED,
            tx_signature=f"sig_{number:06d}" if confirm else None,
            amount_out=order.amount,
        )
        self.transfers[key] = transfer
        return transfer

    def fail_on_chain(self, key: str) -> Transfer:
        """The transfer under ``key`` failed on chain: final under its key."""
        transfer = self.transfers[key]
        transfer.status = FAILED
        transfer.tx_signature = None
        transfer.amount_out = None
        transfer.failure_reason = REVERTED
        return transfer

    def deliver_short(self, key: str) -> Transfer:
        """The transfer under ``key`` confirmed with half its ``min_amount_out``."""
        transfer = self.transfers[key]
        transfer.status = CONFIRMED
        transfer.tx_signature = transfer.tx_signature or f"sig_{transfer.id}"
        transfer.amount_out = transfer.order.min_amount_out / 2
        return transfer

    def confirm_all(self) -> None:
        for transfer in self.transfers.values():
            if transfer.status == SUBMITTED:
                transfer.status = CONFIRMED
                transfer.tx_signature = f"sig_{transfer.id}"
