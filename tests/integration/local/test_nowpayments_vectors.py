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
    js_sorted_stringify,
    parse_ipn_body,
    verify_ipn,
)

SCRIPT = Path(__file__).parents[2] / "vectors" / "nowpayments_ipn.js"


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
                flipped = bytearray(body)
                flipped[index] ^= flip
                mutants.append((vector, bytes(flipped)))
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
