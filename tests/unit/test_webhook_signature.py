"""The pure signature check (no HTTP): the rules the webhook tests rely on, at their edges."""

from __future__ import annotations

import pytest

from adapters.http.webhook_signature import (
    MAX_HEADER_LENGTH,
    SignatureError,
    parse_signature_header,
    sign,
    signature_header,
    verify_signature,
)

BODY = b'{"id":"evt_1"}'
NOW = 1_800_000_000


def _verify(header: str | None, body: bytes = BODY, *, secrets: tuple[str, ...] = ("s1",)) -> int:
    return verify_signature(header, body, secrets, now=NOW, tolerance_seconds=300)


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    # Computed independently, with openssl:
    #   printf '1800000000.{"id":"evt_1"}' | openssl dgst -sha256 -hmac s1
    expected = "166926e5e406f61c68f0b849839f720f6489ad047bccbf8f208c3dd558eb5782"
    assert sign("s1", NOW, BODY) == expected


def test_a_valid_header_returns_its_timestamp() -> None:
    assert _verify(signature_header(["s1"], NOW, BODY)) == NOW


@pytest.mark.parametrize("offset", [-300, 300])
def test_the_tolerance_is_inclusive(offset: int) -> None:
    assert _verify(signature_header(["s1"], NOW + offset, BODY)) == NOW + offset


@pytest.mark.parametrize("offset", [-301, 301])
def test_outside_the_tolerance_is_refused(offset: int) -> None:
    with pytest.raises(SignatureError, match="300 s"):
        _verify(signature_header(["s1"], NOW + offset, BODY))


def test_any_configured_secret_verifies_any_v1() -> None:
    header = signature_header(["unknown", "s2"], NOW, BODY)

    assert _verify(header, secrets=("s1", "s2")) == NOW


def test_upper_case_hex_is_accepted() -> None:
    assert _verify(f"t={NOW},v1={sign('s1', NOW, BODY).upper()}") == NOW


def test_unknown_schemes_are_skipped_not_refused() -> None:
    assert _verify(f"t={NOW},v0=abc,v2=def,v1={sign('s1', NOW, BODY)}") == NOW


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("t=1", "no v1"),
        (f"v1={'0' * 64}", "no timestamp"),
        (f"t=-5,v1={'0' * 64}", "malformed timestamp"),
        (f"t={NOW},t={NOW},v1={'0' * 64}", "malformed timestamp"),
        (f"t={NOW},v1=nothex", "no v1"),
        ("nonsense", "malformed"),
        ("t=" + "1" * MAX_HEADER_LENGTH, "too long"),
        (",".join([f"t={NOW}", *[f"v1={'0' * 64}"] * 9]), "too many"),
        (f"t={NOW},v1={'0' * 64}", "does not match"),
    ],
)
def test_bad_headers_are_refused_with_a_reason(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason):
        _verify(header)


def test_a_signature_over_another_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        _verify(signature_header(["s1"], NOW, BODY), body=BODY + b" ")


def test_without_any_secret_nothing_verifies() -> None:
    with pytest.raises(SignatureError, match="PAYMENT_WEBHOOK_SECRETS"):
        _verify(signature_header(["s1"], NOW, BODY), secrets=())


def test_non_ascii_in_the_header_is_refused_not_crashed() -> None:
    with pytest.raises(SignatureError):
        _verify(f"t={NOW},v1=é{'0' * 63}")
    assert parse_signature_header(f"t={NOW},v1={'a' * 64}").signatures == ("a" * 64,)
