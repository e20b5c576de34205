"""Amounts go out as plain decimal strings, whatever their size or precision."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from entrypoints.api.schemas import _decimal


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_an_amount_goes_out_in_plain_notation(value: Decimal) -> None:
    text = _decimal(value)
    assert text == f"{value:f}"
    assert "E" not in text
    assert "e" not in text
    assert Decimal(text) == value


def test_the_digits_the_buyer_sent_come_back() -> None:
    for sent in ("12.500000", "0.0000001", "13.10", "0", "1000000"):
        assert _decimal(Decimal(sent)) == sent
