"""A small order book covering every status, three months, two currencies and ties in the sort
keys, built with the domain's own moves; and the same facts, written down independently, that the
tests check the queries against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain import Order, OrderStatus, Passkey, Payment, Step, TransferResult
from tests.support.orders import order_request

#: Whole milliseconds everywhere: BSON dates keep milliseconds.
T0 = datetime(2026, 1, 10, 8, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 1, 0, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    n: int
    day: float  # days after T0 the order was created
    status: OrderStatus
    pool: str
    token: str
    currency: str
    price: str
    parked: bool = False
    paid_to_completed_s: int = 0


def _t(day: float, seconds: float = 0) -> datetime:
    return T0 + timedelta(days=day, seconds=seconds)


SPECS: tuple[Spec, ...] = (
    Spec(1, 0, OrderStatus.COMPLETED, "pool-a", "USDC", "EUR", "10.50", paid_to_completed_s=4),
    Spec(2, 0, OrderStatus.COMPLETED, "pool-b", "USDC", "EUR", "10.50", paid_to_completed_s=6),
    Spec(3, 1, OrderStatus.FAILED_PAY, "pool-a", "SOL", "USD", "99.99"),
    Spec(4, 2, OrderStatus.PENDING, "pool-a", "USDC", "EUR", "5"),
    Spec(5, 5, OrderStatus.COMPLETED, "pool-c", "SOL", "USD", "250.0001", paid_to_completed_s=10),
    Spec(6, 20, OrderStatus.CREATE_WALLET_FAIL, "pool-b", "USDC", "EUR", "42.00", parked=True),
    Spec(7, 25, OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL, "pool-a", "SOL", "EUR", "7.25"),
    Spec(8, 25, OrderStatus.COMPLETED, "pool-a", "USDC", "USD", "12", paid_to_completed_s=2),
    Spec(9, 33, OrderStatus.CREATING_WALLET, "pool-c", "USDC", "EUR", "1000"),
    Spec(10, 33, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET, "pool-b", "SOL", "USD", "3.3333"),
    Spec(11, 40, OrderStatus.COMPLETED_PAY, "pool-a", "USDC", "EUR", "10.50"),
    Spec(12, 41, OrderStatus.PENDING, "pool-b", "USDC", "USD", "0.01"),
    Spec(13, 50, OrderStatus.COMPLETED, "pool-c", "USDC", "EUR", "20", paid_to_completed_s=30),
    Spec(14, 52, OrderStatus.FAILED_PAY, "pool-c", "SOL", "EUR", "15"),
    Spec(
        15,
        55,
        OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL,
        "pool-b",
        "USDC",
        "USD",
        "64",
        parked=True,
    ),
    Spec(16, 60, OrderStatus.COMPLETED, "pool-a", "SOL", "EUR", "10.5", paid_to_completed_s=8),
)


def build(spec: Spec) -> Order:
    created = _t(spec.day)
    request = order_request(
        f"ref-{spec.n:02d}",
        pool_id=spec.pool,
        token_symbol=spec.token,
        amount_token=Decimal("3"),
        min_amount_token_receive=Decimal("2.9"),
        price_tolerance_percent=Decimal("1"),
        fiat_currency=spec.currency,
        price_fiat=Decimal(spec.price),
        passkey=Passkey(credential_id=f"cred-{spec.n}", public_key=f"pk-{spec.n}-secretish"),
    )
    payment = Payment(
        id=f"pay-{spec.n:02d}",
        token=f"ptok-{spec.n}",
        checkout_url=f"https://pay.example/{spec.n}",
        status="pending",
        amount=request.price_fiat,
        currency=spec.currency,
        created_at=created,
        expires_at=created + timedelta(minutes=15),
    )
    order = Order.place(request, payment, at=created)
    status = spec.status
    if status is OrderStatus.PENDING:
        return order
    if status is OrderStatus.FAILED_PAY:
        order.mark_payment_failed(_t(spec.day, 60), "gateway reports the payment failed")
        return order
    order.mark_paid(_t(spec.day, 60))
    if status is OrderStatus.COMPLETED_PAY:
        return order
    order.start_step(Step.CREATE_WALLET, _t(spec.day, 61))
    if status is OrderStatus.CREATING_WALLET:
        return order
    if status is OrderStatus.CREATE_WALLET_FAIL:
        order.step_failed(
            _t(spec.day, 62), "wallet: 503", retry_at=None if spec.parked else _t(spec.day, 90)
        )
        return order
    done = 60 + spec.paid_to_completed_s
    order.wallet_created(f"0xw{spec.n}", _t(spec.day, 61))
    if status is OrderStatus.SENDING_TOKEN_TO_SMARTWALLET:
        return order
    if status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL:
        order.step_failed(
            _t(spec.day, 62), "transfer: 503", retry_at=None if spec.parked else _t(spec.day, 90)
        )
        return order
    order.tokens_sent(TransferResult("tr", "confirmed", "sig", Decimal("3")), _t(spec.day, done))
    return order


def book() -> list[Order]:
    return [build(spec) for spec in SPECS]


def ref(order: Order) -> str:
    return order.reference_id
