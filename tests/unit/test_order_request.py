"""The request's invariants: each violation names its field."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain import InvalidOrder, OrderRequest, Passkey
from domain.order import order_id_for


def fields(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "reference_id": "ref-1",
        "pool_id": "pool-1",
        "token_symbol": "USDC",
        "amount_token": Decimal("10"),
        "min_amount_token_receive": Decimal("9.5"),
        "price_tolerance_percent": Decimal("1.5"),
        "fiat_currency": "EUR",
        "price_fiat": Decimal("10.50"),
        "passkey": Passkey("cred-1", "pk-1"),
        "smart_wallet_address": None,
    }
    base.update(overrides)
    return base


def test_a_valid_request_builds() -> None:
    assert OrderRequest(**fields()).amount_token == Decimal("10")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount_token", Decimal(0)),
        ("amount_token", Decimal(-1)),
        ("amount_token", Decimal("NaN")),
        ("amount_token", Decimal("Infinity")),
        ("amount_token", Decimal("1e-19")),
        ("amount_token", Decimal("1e15")),
        ("min_amount_token_receive", Decimal(11)),
        ("min_amount_token_receive", Decimal(0)),
        ("price_tolerance_percent", Decimal("-0.1")),
        ("price_tolerance_percent", Decimal("100.0001")),
        ("price_tolerance_percent", Decimal("1.00001")),
        ("price_fiat", Decimal("0.00001")),
        ("price_fiat", Decimal("sNaN")),
        ("fiat_currency", "eur"),
        ("fiat_currency", "EURO"),
        ("fiat_currency", ""),
        ("reference_id", ""),
        ("reference_id", "x" * 129),
        ("reference_id", "has space"),
        ("pool_id", ""),
        ("token_symbol", "x" * 33),
        ("smart_wallet_address", ""),
    ],
)
def test_each_broken_invariant_names_its_field(field: str, value: object) -> None:
    with pytest.raises(InvalidOrder) as caught:
        OrderRequest(**fields(**{field: value}))
    assert caught.value.field == field


def test_passkey_fields_are_checked() -> None:
    with pytest.raises(InvalidOrder) as caught:
        Passkey("", "pk")
    assert caught.value.field == "passkey.credential_id"


def test_tolerance_bounds_are_inclusive() -> None:
    OrderRequest(**fields(price_tolerance_percent=Decimal(0)))
    OrderRequest(**fields(price_tolerance_percent=Decimal(100)))


@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_any_decimal_either_builds_a_valid_amount_or_names_the_field(value: Decimal) -> None:
    valid = value.is_finite() and Decimal("1e-18") <= value < Decimal("1e15")
    valid = valid and -int(value.as_tuple().exponent) <= 18
    if valid:
        request = OrderRequest(
            **fields(amount_token=value, min_amount_token_receive=Decimal("1e-18"))
        )
        assert request.amount_token == value
    else:
        with pytest.raises(InvalidOrder) as caught:
            OrderRequest(**fields(amount_token=value, min_amount_token_receive=Decimal("1e-18")))
        assert caught.value.field in {"amount_token", "min_amount_token_receive"}


@given(st.text(min_size=1, max_size=200), st.binary(max_size=64))
def test_the_order_id_is_the_keyed_digest_of_the_reference_id(
    reference_id: str, key: bytes
) -> None:
    digest = bytearray(hmac.new(key, reference_id.encode(), hashlib.sha256).digest()[:16])
    expected = uuid.UUID(bytes=bytes(digest))
    found = uuid.UUID(order_id_for(reference_id, key))
    assert order_id_for.__wrapped__(reference_id, key) == str(found)
    assert found.version == 8
    assert found.variant == uuid.RFC_4122
    # Every bit of the digest but the version's and the variant's.
    mask = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
    assert found.int & mask == expected.int & mask


def test_without_the_key_the_id_cannot_be_computed() -> None:
    keyed = order_id_for("web-0001", b"k" * 32)
    assert keyed != order_id_for("web-0001")
    assert keyed != order_id_for("web-0001", b"k" * 31 + b"j")
    assert keyed != str(uuid.uuid5(uuid.NAMESPACE_URL, "web-0001"))
    assert keyed == order_id_for("web-0001", b"k" * 32)  # creates stay idempotent
