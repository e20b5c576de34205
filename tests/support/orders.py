"""The one order a test starts from, as a domain request or as the JSON body the API takes.

Both forms carry the same values, so a test that sends ``order_body()`` over HTTP and one that
hands ``order_request()`` to a use-case place the same order. Override any field by name.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain import Order, OrderRequest, Passkey, Payment


def order_request(reference_id: str = "ref-1", **overrides: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "reference_id": reference_id,
        "pool_id": "pool-1",
        "token_symbol": "USDC",
        "amount_token": Decimal("12.500000"),
        "min_amount_token_receive": Decimal("12.4"),
        "price_tolerance_percent": Decimal("1.5"),
        "fiat_currency": "EUR",
        "price_fiat": Decimal("13.10"),
        "passkey": Passkey(f"cred-{reference_id}", f"pk-{reference_id}"),
        "smart_wallet_address": None,
    }
    values.update(overrides)
    return OrderRequest(**values)


def order_body(reference_id: str = "ref-1", **overrides: Any) -> dict[str, Any]:
    """``order_request``'s values on the wire: decimal strings, the passkey as an object."""
    body: dict[str, Any] = {
        "reference_id": reference_id,
        "pool_id": "pool-1",
        "token_symbol": "USDC",
        "amount_token": "12.500000",
        "min_amount_token_receive": "12.4",
        "price_tolerance_percent": "1.5",
        "fiat_currency": "EUR",
        "price_fiat": "13.10",
        "passkey": {"credential_id": f"cred-{reference_id}", "public_key": f"pk-{reference_id}"},
    }
    body.update(overrides)
    return body


def e2e_order(reference_id: str, amount: str = "12.500000") -> dict[str, Any]:
    """``order_body`` for the end-to-end runs: any amount (a minimum of 1 token) and, as ever, one
    passkey per order: one wallet per order, so destinations tell orders apart."""
    return order_body(
        reference_id, pool_id="pool-e2e", amount_token=amount, min_amount_token_receive="1"
    )


def placed_order(*, wallet: str | None = None, at: datetime | None = None) -> Order:
    """A pending order placed straight in the domain (no use-case, no store): a 10.5 EUR price
    for 10 tokens, payment ``pay_1``, placed at ``at`` (default 2026-01-01 UTC)."""
    request = order_request(
        amount_token=Decimal("10"),
        min_amount_token_receive=Decimal("9.9"),
        price_tolerance_percent=Decimal("1"),
        price_fiat=Decimal("10.5"),
        passkey=Passkey("cred", "pk"),
        smart_wallet_address=wallet,
    )
    payment = Payment("pay_1", "tok_1", "http://x/checkout", "pending", Decimal("10.5"), "EUR")
    return Order.place(request, payment, at=at or datetime(2026, 1, 1, tzinfo=UTC))
