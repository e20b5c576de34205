"""The NOWPayments IPN signature against vectors made by Node itself (tests/vectors/
nowpayments_ipn.js): JSON.stringify over recursively sorted keys, HMAC-SHA512, hex.

Node is the oracle twice: it signs the bodies, and it tells, for every one-byte change of those
bodies, what JavaScript reads from the changed text. The verifier must accept a changed body
exactly when NOWPayments' own code would compute the same signature for it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from adapters.http.nowpayments_signature import (
    IpnBodyError,
    IpnSignatureError,
    ipn_signature,
    js_number,
    js_sorted_stringify,
    parse_ipn_body,
    verify_ipn,
)

SCRIPT = Path(__file__).parent.parent / "vectors" / "nowpayments_ipn.js"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("node is not installed: the signature vectors cannot be made")
        pytest.skip("node is not installed")
    return node


def _run_node(*args: str, stdin: str | None = None) -> Any:
    done = subprocess.run(  # noqa: S603 - node on our own script
        [_node(), str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def vectors() -> list[dict[str, str]]:
    made: list[dict[str, str]] = _run_node()
    assert len(made) >= 7
    return made


def test_the_verifier_accepts_every_vector_made_by_javascript(
    vectors: list[dict[str, str]],
) -> None:
    for vector in vectors:
        body = vector["body"].encode("utf-8")
        assert js_sorted_stringify(parse_ipn_body(body)) == vector["sorted"], vector["body"]
        payload = verify_ipn(vector["signature"], body, vector["secret"])
        assert isinstance(payload, dict)
        # Upper-case hex is the same signature.
        verify_ipn(vector["signature"].upper(), body, vector["secret"])


def test_amounts_come_out_as_exact_decimals_of_their_text(vectors: list[dict[str, str]]) -> None:
    first = vectors[0]
    payload = verify_ipn(first["signature"], first["body"].encode(), first["secret"])
    assert payload["pay_amount"] == Decimal("0.00029")
    assert isinstance(payload["pay_amount"], Decimal)
    assert payload["price_amount"] == Decimal("25.5")
    assert payload["outcome_amount"] == Decimal("1E-7")
    assert payload["payment_id"] == Decimal(5077125051)
    # The text's own digits, not a double's: 0.1 stays 0.1, a long integer stays exact.
    numbers = parse_ipn_body(vectors[1]["body"].encode())
    assert numbers["n"] == Decimal("0.1")
    assert numbers["l"] == Decimal("9007199254740993")
    assert numbers["w"].as_tuple() == Decimal("25.50").as_tuple()


def test_every_one_byte_change_is_judged_as_javascript_would(
    vectors: list[dict[str, str]],
) -> None:
    mutants: list[tuple[dict[str, str], bytes]] = []
    for vector in vectors:
        body = vector["body"].encode("utf-8")
        for index in range(len(body)):
            for flip in (0x01, 0x20):
                changed = bytearray(body)
                changed[index] ^= flip
                mutants.append((vector, bytes(changed)))
    texts: list[str | None] = []
    for _, changed in mutants:
        try:
            texts.append(changed.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(None)
    oracle = iter(_run_node("--canonical", stdin=json.dumps([t for t in texts if t is not None])))
    accepted = rejected = 0
    for (vector, changed), text in zip(mutants, texts, strict=True):
        javascript = next(oracle) if text is not None else None
        same = javascript == vector["sorted"]
        try:
            verify_ipn(vector["signature"], changed, vector["secret"])
        except (IpnSignatureError, IpnBodyError):
            assert not same, changed
            rejected += 1
        else:
            assert same, changed
            accepted += 1
    # Most changes alter what is signed; a few only touch whitespace or spelling ("1E2"/"1e2").
    assert rejected > 10 * accepted > 0


def test_a_one_character_change_of_the_signature_is_refused(
    vectors: list[dict[str, str]],
) -> None:
    vector = vectors[0]
    body = vector["body"].encode()
    signature = vector["signature"]
    for index in range(len(signature)):
        swapped = "0" if signature[index] != "0" else "1"
        forged = signature[:index] + swapped + signature[index + 1 :]
        with pytest.raises(IpnSignatureError, match="does not match"):
            verify_ipn(forged, body, vector["secret"])
    with pytest.raises(IpnSignatureError, match="does not match"):
        verify_ipn(signature, body, vector["secret"] + "x")


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
