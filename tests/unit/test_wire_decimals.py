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


def test_a_stored_amount_goes_out_with_its_digits() -> None:
    # The edge stores amounts canonical (tests/unit/test_input_grammar.py); the view adds nothing.
    for sent in ("12.500000", "0.0000001", "13.10", "0", "1000000"):
        assert _decimal(Decimal(sent)) == sent
