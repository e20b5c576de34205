"""Orders for the contract suites, moved into each status by the domain's own methods."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import Order, Passkey, Payment, Step, TransferResult, event_id
from tests.support.orders import order_request

#: Whole milliseconds: BSON dates carry milliseconds (see docs/mongo.md).
T0 = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_order(
    n: int,
    *,
    seconds: float = 0,
    amount: Decimal = Decimal("12.5"),
    wallet: str | None = None,
    order_id: str | None = None,
    reference_id: str | None = None,
    payment_id: str | None = None,
) -> Order:
    request = order_request(
        reference_id or f"ref-{n}",
        pool_id=f"pool-{n % 3}",
        amount_token=amount,
        min_amount_token_receive=amount,
        price_tolerance_percent=Decimal("1.25"),
        price_fiat=Decimal("10.5000"),
        passkey=Passkey(credential_id=f"cred-{n}", public_key=f"pk-{n}"),
        smart_wallet_address=wallet,
    )
    payment = Payment(
        id=payment_id or f"pay-{n}",
        token=f"tok-{n}",
        checkout_url=f"https://pay.example/{n}",
        status="pending",
        amount=Decimal("10.5000"),
        currency="EUR",
        created_at=at(seconds),
        expires_at=at(seconds + 900),
    )
    order = Order.place(request, payment, at=at(seconds))
    if order_id is not None:
        order.id = order_id
        order.events = [
            dataclasses.replace(e, id=event_id(order_id, e.sequence), order_id=order_id)
            for e in order.events
        ]
    return order


def paid(order: Order, seconds: float) -> Order:
    order.record_payment_status("completed")
    order.mark_paid(at(seconds))
    return order


def creating_wallet(order: Order, seconds: float) -> Order:
    paid(order, seconds)
    order.start_step(Step.CREATE_WALLET, at(seconds))
    return order


def wallet_failed(order: Order, seconds: float, retry_in: float | None) -> Order:
    creating_wallet(order, seconds)
    retry_at = None if retry_in is None else at(seconds + retry_in)
    order.step_failed(at(seconds), "wallet service: 503", retry_at=retry_at)
    return order


def sending(order: Order, seconds: float) -> Order:
    creating_wallet(order, seconds)
    order.wallet_created("0xwallet", at(seconds))
    return order


def completed(order: Order, seconds: float, amount_out: Decimal = Decimal("12.49")) -> Order:
    sending(order, seconds)
    order.transfer_submitted(TransferResult("tr-1", "submitted", None, None))
    order.tokens_sent(TransferResult("tr-1", "confirmed", "sig-1", amount_out), at(seconds))
    return order


def snapshot(order: Order) -> dict[str, Any]:
    """Every field of the order, nested values included, for equality checks."""
    return dataclasses.asdict(order)
