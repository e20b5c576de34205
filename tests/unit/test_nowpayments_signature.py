"""The NOWPayments IPN signature against vectors made by Node itself (tests/vectors/
nowpayments_ipn.js): JSON.stringify over recursively sorted keys, HMAC-SHA512, hex.

Node is the oracle twice: it signs the bodies, and it tells, for every one-byte change of those
bodies, what JavaScript reads from the changed text. The verifier must accept a changed body
exactly when NOWPayments' own code would compute the same signature for it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.http.nowpayments_signature import (
    IpnBodyError,
    IpnSignatureError,
    ipn_signature,
    js_number,
    verify_ipn,
)


@pytest.mark.parametrize("header", [None, "", "abc", "0" * 127, "0" * 129, "g" * 128, " " * 128])
def test_a_missing_or_malformed_header_is_refused_before_the_body_is_read(
    header: str | None,
) -> None:
    with pytest.raises(IpnSignatureError):
        verify_ipn(header, b"not json at all", "secret")


def test_no_secret_configured_verifies_nothing() -> None:
    payload = {"payment_id": Decimal(1)}
    with pytest.raises(IpnSignatureError, match="no IPN secret"):
        verify_ipn(ipn_signature("", payload), b'{"payment_id":1}', "")


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'"text"',
        b"1",
        b"null",
        b"",
        b"{",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":1}x',
        b"\xef\xbb\xbf{}",
        b'{"a":"\xff"}',
        b"[" * 100 + b"]" * 100,
        b'{"a":' * 40 + b"1" + b"}" * 40,
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
    ],
)
def test_a_body_that_is_not_a_json_object_is_a_body_error(body: bytes) -> None:
    signature = "0" * 128
    with pytest.raises(IpnBodyError):
        verify_ipn(signature, body, "secret")


@pytest.mark.parametrize(
    ("text", "javascript"),
    [
        ("0.00029", "0.00029"),
        ("25.5", "25.5"),
        ("25.50", "25.5"),
        ("1e-7", "1e-7"),
        ("0.0000001", "1e-7"),
        ("0.000001", "0.000001"),
        ("100", "100"),
        ("1E2", "100"),
        ("-0", "0"),
        ("1e21", "1e+21"),
        ("1e20", "100000000000000000000"),
        ("123e-20", "1.23e-18"),
        ("1e400", "null"),
        ("-2.5e-5", "-0.000025"),
    ],
)
def test_numbers_are_spelled_as_javascript_spells_them(text: str, javascript: str) -> None:
    assert js_number(Decimal(text)) == javascript
