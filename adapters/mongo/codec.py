"""Order <-> BSON document, field by field.

The field names are the original schema's (docs/mongo.md): ``reference_id``, ``id_pool``,
``request``, ``payment`` with ``payment.id`` / ``payment.token``, ``status``, ``created_at``,
``updated_at``; ``_id`` is the order id. Every amount is a ``Decimal128`` and comes back as the
exact ``Decimal`` that went in; every time is a UTC-aware ``datetime`` (BSON dates carry
milliseconds, so times are truncated to the millisecond on the way in; see docs/mongo.md).
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bson.decimal128 import Decimal128, create_decimal128_context

from application.errors import CorruptDocument
from application.ports import relay_cue
from domain import (
    EventType,
    Order,
    OrderEvent,
    OrderRequest,
    OrderStatus,
    Passkey,
    Payment,
    Refund,
    RefundCause,
    RefundStatus,
    StatusChange,
    Step,
    TransferResult,
)
from domain.errors import DomainError

Document = dict[str, Any]

#: Bump when the document shape changes in a way a reader must know about.
#: 2: ``events``, the order's outbox (ADR 0013); a version-1 writer would drop it on save.
#: 3: ``refund`` and ``send_generation`` (ADR 0015); a version-2 writer would drop them.
SCHEMA_VERSION = 3

_DECIMAL128 = create_decimal128_context()


def money_to_bson(value: Decimal) -> Decimal128:
    """A Decimal as Decimal128, refusing (rather than rounding) one that does not fit exactly."""
    with decimal.localcontext(_DECIMAL128) as ctx:
        ctx.traps[decimal.Inexact] = True
        ctx.traps[decimal.Rounded] = True
        try:
            return Decimal128(ctx.create_decimal(value))
        except decimal.DecimalException:
            raise ValueError(f"{value} does not fit a Decimal128 exactly") from None


_EXPONENT_BIAS = 6176
_MAX_COEFFICIENT = 10**34 - 1
_SPECIAL = 0x3 << 61  # combination bits "11": NaN, infinity or the large-coefficient form


def _decimal128_to_decimal(value: Decimal128) -> Decimal:
    """Exactly ``value.to_decimal()`` (the same digits, exponent and sign), computed from the
    bits directly for finite values; NaN, infinities and non-canonical coefficients go through
    ``to_decimal``. Every amount of every order read passes here (docs/benchmarks.md)."""
    raw = value.bid
    high = int.from_bytes(raw[8:], "little")
    if high & _SPECIAL == _SPECIAL:
        return value.to_decimal()
    low = int.from_bytes(raw[:8], "little")
    coefficient = ((high & 0x1FFFFFFFFFFFF) << 64) | low
    if coefficient > _MAX_COEFFICIENT:  # non-canonical: leave it to the driver's rules
        return value.to_decimal()
    exponent = ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS
    sign = "-" if high >> 63 else ""
    # From a string the Decimal constructor is exact: no context precision applies.
    return Decimal(f"{sign}{coefficient}E{exponent}")


def money_from_bson(value: object) -> Decimal:
    """A stored ``Decimal128`` as its exact ``Decimal``; any other type is a ``TypeError``."""
    if isinstance(value, Decimal128):
        return _decimal128_to_decimal(value)
    # Never float: a number stored by hand as a double is a corrupt document, not an amount.
    raise TypeError(f"expected a Decimal128 amount, found {type(value).__name__}")


def time_to_bson(value: datetime) -> datetime:
    """An aware datetime in UTC, as stored; a naive one is a ``ValueError``."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: every time in an order is UTC-aware")
    return value.astimezone(UTC)


def time_from_bson(value: object) -> datetime:
    """A stored date as an aware UTC datetime (naive ones are read as UTC)."""
    if not isinstance(value, datetime):
        raise TypeError(f"expected a date, found {type(value).__name__}")
    # A client made without tz_aware=True hands back naive UTC datetimes: normalise them.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _opt_time_to_bson(value: datetime | None) -> datetime | None:
    return None if value is None else time_to_bson(value)


def _opt_time_from_bson(value: object) -> datetime | None:
    return None if value is None else time_from_bson(value)


def refund_to_document(refund: Refund | None) -> Document | None:
    if refund is None:
        return None
    return {
        "status": refund.status.value,
        "amount": money_to_bson(refund.amount),
        "currency": refund.currency,
        "cause": refund.cause.value,
        "reason": refund.reason,
        "requested_at": time_to_bson(refund.requested_at),
        "refund_id": refund.refund_id,
        "failure_reason": refund.failure_reason,
        "attempts": refund.attempts,
        "last_error": refund.last_error,
        "next_attempt_at": _opt_time_to_bson(refund.next_attempt_at),
    }


def refund_from_document(raw: Mapping[str, Any] | None) -> Refund | None:
    if raw is None:
        return None
    attempts = raw["attempts"]
    if not isinstance(attempts, int) or isinstance(attempts, bool):
        raise TypeError(f"refund.attempts: expected an integer, found {type(attempts).__name__}")
    return Refund(
        status=RefundStatus(raw["status"]),
        amount=money_from_bson(raw["amount"]),
        currency=_str(raw, "currency"),
        cause=RefundCause(raw["cause"]),
        reason=_str(raw, "reason"),
        requested_at=time_from_bson(raw["requested_at"]),
        refund_id=_opt_str(raw, "refund_id"),
        failure_reason=_opt_str(raw, "failure_reason"),
        attempts=attempts,
        last_error=_opt_str(raw, "last_error"),
        next_attempt_at=_opt_time_from_bson(raw.get("next_attempt_at")),
    )


def order_to_document(order: Order) -> Document:
    """The whole order as one document (``save`` replaces it in one conditional write)."""
    request = order.request
    payment = order.payment
    transfer = order.transfer
    return {
        "_id": order.id,
        "schema_version": SCHEMA_VERSION,
        "reference_id": request.reference_id,
        "id_pool": request.pool_id,
        "status": order.status.value,
        "created_at": time_to_bson(order.created_at),
        "updated_at": time_to_bson(order.updated_at),
        "version": order.version,
        "request": {
            "reference_id": request.reference_id,
            "pool_id": request.pool_id,
            "token_symbol": request.token_symbol,
            "amount_token": money_to_bson(request.amount_token),
            "min_amount_token_receive": money_to_bson(request.min_amount_token_receive),
            "price_tolerance_percent": money_to_bson(request.price_tolerance_percent),
            "fiat_currency": request.fiat_currency,
            "price_fiat": money_to_bson(request.price_fiat),
            "passkey": {
                "credential_id": request.passkey.credential_id,
                "public_key": request.passkey.public_key,
            },
            "smart_wallet_address": request.smart_wallet_address,
            "return_url": request.return_url,
        },
        "payment": {
            "id": payment.id,
            "token": payment.token,
            "checkout_url": payment.checkout_url,
            "status": payment.status,
            "amount": money_to_bson(payment.amount),
            "currency": payment.currency,
            "created_at": _opt_time_to_bson(payment.created_at),
            "expires_at": _opt_time_to_bson(payment.expires_at),
            # Written only when present: documents of hosted-checkout payments stay as they were.
            **(
                {}
                if payment.pay_address is None
                else {
                    "pay_address": payment.pay_address,
                    "pay_amount": None
                    if payment.pay_amount is None
                    else money_to_bson(payment.pay_amount),
                    "pay_currency": payment.pay_currency,
                }
            ),
            # An under-payment (crypto gateway), kept for a refund: only when there was one.
            **(
                {}
                if payment.paid_amount is None
                else {
                    "paid_amount": money_to_bson(payment.paid_amount),
                    "paid_currency": payment.paid_currency,
                }
            ),
        },
        "smart_wallet_address": order.smart_wallet_address,
        "history": [
            {"status": c.status.value, "at": time_to_bson(c.at), "reason": c.reason}
            for c in order.history
        ],
        "attempts": {step.value: count for step, count in order.attempts.items()},
        "last_error": order.last_error,
        "next_attempt_at": _opt_time_to_bson(order.next_attempt_at),
        "parked": order.parked,
        "parked_reason": order.parked_reason,
        # The relay's cue (ADR 0016): due at once with new events, else carried as read.
        "relay_due_at": _opt_time_to_bson(relay_cue(order)),
        "events": [
            {
                "id": e.id,
                "sequence": e.sequence,
                "type": e.type.value,
                "at": time_to_bson(e.at),
                "data": dict(e.data),
            }
            for e in order.events
        ],
        "transfer": None
        if transfer is None
        else {
            "transfer_id": transfer.transfer_id,
            "status": transfer.status,
            "tx_signature": transfer.tx_signature,
            "amount_out": None
            if transfer.amount_out is None
            else money_to_bson(transfer.amount_out),
        },
        "refund": refund_to_document(order.refund),
        "send_generation": order.send_generation,
    }


def _str(doc: Mapping[str, Any], name: str) -> str:
    value = doc[name]
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, found {type(value).__name__}")
    return value


def _opt_str(doc: Mapping[str, Any], name: str) -> str | None:
    value = doc.get(name)
    return None if value is None else _str(doc, name)


_EVENT_TYPES = {t.value: t for t in EventType}
_PLAIN = (str, int, bool, type(None))


def _decode_events(order_id: str, raw: object) -> list[OrderEvent]:
    if not isinstance(raw, list):
        raise TypeError(f"events: expected an array, found {type(raw).__name__}")
    events: list[OrderEvent] = []
    prefix = f"{order_id}:"
    for sequence, item in enumerate(raw, start=1):
        if item["sequence"] != sequence or item["id"] != f"{prefix}{sequence}":
            raise ValueError(f"events: entry {sequence} is not event {sequence} of the order")
        data = item["data"]
        if not isinstance(data, dict) or not all(isinstance(v, _PLAIN) for v in data.values()):
            raise TypeError(f"events: entry {sequence} has a payload that is not plain values")
        events.append(
            OrderEvent(
                item["id"],
                order_id,
                sequence,
                _EVENT_TYPES[item["type"]],
                time_from_bson(item["at"]),
                data,
            )
        )
    return events


def _decode(doc: Mapping[str, Any]) -> Order:
    req = doc["request"]
    passkey = req["passkey"]
    request = OrderRequest(
        reference_id=_str(req, "reference_id"),
        pool_id=_str(req, "pool_id"),
        token_symbol=_str(req, "token_symbol"),
        amount_token=money_from_bson(req["amount_token"]),
        min_amount_token_receive=money_from_bson(req["min_amount_token_receive"]),
        price_tolerance_percent=money_from_bson(req["price_tolerance_percent"]),
        fiat_currency=_str(req, "fiat_currency"),
        price_fiat=money_from_bson(req["price_fiat"]),
        passkey=Passkey(
            credential_id=_str(passkey, "credential_id"),
            public_key=_str(passkey, "public_key"),
        ),
        smart_wallet_address=_opt_str(req, "smart_wallet_address"),
        return_url=_opt_str(req, "return_url"),
    )
    if doc["reference_id"] != request.reference_id or doc["id_pool"] != request.pool_id:
        raise ValueError("reference_id / id_pool disagree with the stored request")
    pay = doc["payment"]
    payment = Payment(
        id=_str(pay, "id"),
        token=_str(pay, "token"),
        checkout_url=_opt_str(pay, "checkout_url"),
        status=_str(pay, "status"),
        amount=money_from_bson(pay["amount"]),
        currency=_str(pay, "currency"),
        created_at=_opt_time_from_bson(pay.get("created_at")),
        expires_at=_opt_time_from_bson(pay.get("expires_at")),
        pay_address=_opt_str(pay, "pay_address"),
        pay_amount=None if pay.get("pay_amount") is None else money_from_bson(pay["pay_amount"]),
        pay_currency=_opt_str(pay, "pay_currency"),
        paid_amount=None if pay.get("paid_amount") is None else money_from_bson(pay["paid_amount"]),
        paid_currency=_opt_str(pay, "paid_currency"),
    )
    raw_transfer = doc.get("transfer")
    transfer = None
    if raw_transfer is not None:
        amount_out = raw_transfer.get("amount_out")
        transfer = TransferResult(
            transfer_id=_str(raw_transfer, "transfer_id"),
            status=_str(raw_transfer, "status"),
            tx_signature=_opt_str(raw_transfer, "tx_signature"),
            amount_out=None if amount_out is None else money_from_bson(amount_out),
        )
    version = doc["version"]
    if not isinstance(version, int) or isinstance(version, bool):
        raise TypeError(f"version: expected an integer, found {type(version).__name__}")
    parked = doc.get("parked", False)
    if not isinstance(parked, bool):
        raise TypeError(f"parked: expected a boolean, found {type(parked).__name__}")
    order_id = _str(doc, "_id")
    events = _decode_events(order_id, doc.get("events", []))
    return Order(
        id=order_id,
        request=request,
        payment=payment,
        status=OrderStatus(doc["status"]),
        created_at=time_from_bson(doc["created_at"]),
        updated_at=time_from_bson(doc["updated_at"]),
        smart_wallet_address=_opt_str(doc, "smart_wallet_address"),
        version=version,
        history=[
            StatusChange(
                status=OrderStatus(line["status"]),
                at=time_from_bson(line["at"]),
                reason=_str(line, "reason"),
            )
            for line in doc.get("history", [])
        ],
        attempts={Step(step): int(count) for step, count in doc.get("attempts", {}).items()},
        last_error=_opt_str(doc, "last_error"),
        next_attempt_at=_opt_time_from_bson(doc.get("next_attempt_at")),
        parked=parked,
        parked_reason=_opt_str(doc, "parked_reason"),
        transfer=transfer,
        events=events,
        stored_events=len(events),
        relay_due_at=_opt_time_from_bson(doc.get("relay_due_at")),
        refund=refund_from_document(doc.get("refund")),
        send_generation=_generation(doc.get("send_generation", 1)),
    )


def _generation(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"send_generation: expected a whole number >= 1, found {value!r}")
    return value


def document_to_order(doc: Mapping[str, Any]) -> Order:
    """The order a document holds; ``CorruptDocument`` naming the ``_id`` if it does not decode."""
    try:
        return _decode(doc)
    except (KeyError, TypeError, ValueError, AttributeError, DomainError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CorruptDocument(str(doc.get("_id", "<no _id>")), reason) from exc
