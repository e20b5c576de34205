"""The sandbox's NOWPayments (docs/nowpayments.md, docs/sandbox.md): payments in memory, their
statuses moved by the test or the developer, and IPNs signed the NOWPayments way.

**A deliberately independent implementation.** The signer here does not import the service's
verifier (``adapters/http/nowpayments_signature.py``) and is written differently: the sandbox
only ever signs its own flat payloads (ASCII keys; strings, integers, decimals), so it sorts with
``sorted()``, escapes strings with the standard ``json`` module (``ensure_ascii=False`` escapes
exactly what ``JSON.stringify`` does for text without lone surrogates) and spells numbers by
rewriting Python's ``repr(float)`` into JavaScript's exponent rules. Had both sides shared one
serializer, a mistake in it would sign and verify alike and no test would see it; two
implementations plus Node's own vectors (tests/vectors/nowpayments_ipn.js) make it visible.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

#: ``payment_status`` values of NOWPayments' API.
STATUSES = (
    "waiting",
    "confirming",
    "confirmed",
    "sending",
    "partially_paid",
    "finished",
    "failed",
    "refunded",
    "expired",
)
#: Statuses after which no more money is expected (a later payment is a *late* payment).
CLOSED = frozenset({"finished", "failed", "refunded", "expired"})
#: ``case`` (sandbox only) forces an outcome: the status the payment moves to.
CASES = {"success": "finished", "fail": "failed", "partially_paid": "partially_paid"}
#: How many units of ``pay_currency`` one unit of the price currency buys, in the sandbox.
RATE = Decimal("0.0067")
FIRST_PAYMENT_ID = 5_077_125_051


def js_number(value: Decimal | int) -> str:
    """How ``JSON.stringify`` writes the double nearest to ``value``: Python's shortest repr,
    moved to JavaScript's rules (fixed notation from 1e-6 up to 1e21, else ``1e-7``/``1e+21``,
    no ``.0`` on integers)."""
    text = repr(float(value))
    mantissa, _, exponent = text.partition("e")
    if mantissa.endswith(".0"):
        mantissa = mantissa[:-2]
    if not exponent:
        return "0" if mantissa in ("0", "-0") else mantissa
    power = int(exponent)
    if -7 < power < 21:
        fixed = format(Decimal(mantissa).scaleb(power), "f")
        return fixed.rstrip("0").rstrip(".") if "." in fixed else fixed
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return js_number(value)
    return json.dumps(str(value), ensure_ascii=False)


def write_object(payload: dict[str, object], *, sort: bool = False) -> str:
    """A flat JSON object, numbers as JavaScript writes them; keys sorted when asked."""
    keys = sorted(payload) if sort else list(payload)
    return "{" + ",".join(f"{json.dumps(k)}:{_value(payload[k])}" for k in keys) + "}"


def sign_ipn(secret: str, payload: dict[str, object]) -> str:
    """``x-nowpayments-sig``: hex HMAC-SHA512 of the sorted serialization.

    The sandbox's own signer, deliberately separate from the service's verifier
    (``adapters/http/nowpayments_signature.py``): a shared mistake would sign and verify alike."""
    message = write_object(payload, sort=True).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest()


def _now() -> str:
    """NOWPayments' time format: ``2026-12-02T20:00:00.000Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class NowPayment:
    payment_id: int
    status: str
    pay_address: str
    price_amount: Decimal
    price_currency: str
    pay_amount: Decimal
    pay_currency: str
    order_id: str
    order_description: str
    ipn_callback_url: str
    purchase_id: int
    created_at: str
    updated_at: str
    actually_paid: Decimal = Decimal(0)
    #: Status changes, for the sandbox's views.
    history: tuple[str, ...] = ()

    def fields(self) -> dict[str, object]:
        """The payment as the API and the IPN show it, in NOWPayments' (unsorted) order."""
        return {
            "payment_id": self.payment_id,
            "payment_status": self.status,
            "pay_address": self.pay_address,
            "price_amount": self.price_amount,
            "price_currency": self.price_currency,
            "pay_amount": self.pay_amount,
            "actually_paid": self.actually_paid,
            "pay_currency": self.pay_currency,
            "order_id": self.order_id,
            "order_description": self.order_description,
            "purchase_id": self.purchase_id,
            "outcome_amount": self.pay_amount,
            "outcome_currency": self.pay_currency,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class NowPaymentsLedger:
    """Every payment made (NOWPayments makes a new one on every create: no idempotency)."""

    def __init__(self) -> None:
        self.payments: dict[str, NowPayment] = {}
        self._next_id = FIRST_PAYMENT_ID

    def create(
        self,
        *,
        price_amount: Decimal,
        price_currency: str,
        pay_currency: str,
        ipn_callback_url: str,
        order_id: str,
        order_description: str,
    ) -> NowPayment:
        now = _now()
        payment = NowPayment(
            payment_id=self._next_id,
            status="waiting",
            pay_address=f"sandbox{secrets.token_hex(16)}",
            price_amount=price_amount,
            price_currency=price_currency,
            pay_amount=(price_amount * RATE).quantize(Decimal("1e-9")).normalize(),
            pay_currency=pay_currency,
            order_id=order_id,
            order_description=order_description,
            ipn_callback_url=ipn_callback_url,
            purchase_id=self._next_id + 1_000_000,
            created_at=now,
            updated_at=now,
            history=("waiting",),
        )
        self._next_id += 1
        self.payments[str(payment.payment_id)] = payment
        return payment

    def move(self, payment: NowPayment, status: str, *, paid: Decimal | None = None) -> None:
        if paid is not None:
            payment.actually_paid = paid
        payment.status = status
        payment.updated_at = _now()
        payment.history = (*payment.history, status)

    def for_order(self, order_id: str) -> list[NowPayment]:
        return [p for p in self.payments.values() if p.order_id == order_id]
