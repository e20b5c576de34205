"""One input grammar: every constrained string is matched as a whole, in the domain and on the
wire, and decimal text has one canonical value."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.clock import SystemClock
from adapters.http import webhook_signature as signature
from adapters.http.wire import PaymentStatusAnswer, decimal_text, wallet_decoder
from application.ports import PaymentState
from domain import InvalidOrder, OrderRequest, Passkey, grammar
from entrypoints.api import observability
from entrypoints.api.bodies import MAX_DEPTH, repeated_keys, required_keys, too_deep
from entrypoints.api.schemas import CreateOrderBody, PasskeyBody, PaymentWebhookBody
from tests.support.orders import order_body

#: What a line-oriented check lets through after a value: line feed, carriage return, NUL, the
#: Unicode line and paragraph separators and NEL.
TRAILERS = ["\n", "\r", "\x00", "\u2028", "\u2029", "\x85"]

#: A value each rule accepts.
GOOD = {
    grammar.IDENTIFIER: "ref-1",
    grammar.TOKEN_SYMBOL: "USDC",
    grammar.CURRENCY: "EUR",
    grammar.CREDENTIAL_ID: "cred-1",
    grammar.PUBLIC_KEY: "pk-1",
    grammar.WALLET_ADDRESS: "W1",
    grammar.DECIMAL_TEXT: "12.5",
    grammar.RETURN_URL: "http://127.0.0.1:8010/shop",
    grammar.OPERATOR_REASON: "buyer asked: refund",
}
RULES = [v for v in vars(grammar).values() if isinstance(v, grammar.TextRule)]


def test_every_rule_of_the_grammar_is_exercised_here() -> None:
    assert set(RULES) == set(GOOD)
    assert set(grammar.REQUEST_TEXT_RULES.values()) <= set(GOOD)


@pytest.mark.parametrize("trailer", TRAILERS, ids=repr)
@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.body)
def test_a_rule_refuses_a_trailing_line_break_or_nul(rule: grammar.TextRule, trailer: str) -> None:
    good = GOOD[rule]
    assert rule.matches(good)
    assert rule.problem(good) is None
    assert not rule.matches(good + trailer)
    assert rule.problem(good + trailer) is not None
    # The wire pattern is searched (msgspec, JSON Schema): it must not let the trailer through.
    wire = re.compile(rule.wire_pattern)
    assert wire.search(good)
    assert not wire.search(good + trailer)
    assert not wire.search(trailer + good)


def _str_type(annotated: Any) -> msgspec.inspect.StrType | None:
    info = msgspec.inspect.type_info(annotated)
    options = info.types if isinstance(info, msgspec.inspect.UnionType) else (info,)
    for option in options:
        inner = option.type if isinstance(option, msgspec.inspect.Metadata) else option
        if isinstance(inner, msgspec.inspect.StrType):
            return inner
    return None


def _wire_fields() -> list[tuple[type[msgspec.Struct], str, Any]]:
    """Every string field of the request Structs, and its annotated type."""
    return [
        (struct, field.name, field.type)
        for struct in (CreateOrderBody, PasskeyBody)
        for field in msgspec.structs.fields(struct)
        if _str_type(field.type) is not None
    ]


WIRE_FIELDS = _wire_fields()


def test_every_constrained_wire_string_has_the_domains_pattern() -> None:
    wire_patterns = {r.wire_pattern for r in RULES}
    assert len(WIRE_FIELDS) == 12  # every string of the body and of its passkey
    for struct, name, annotated in WIRE_FIELDS:
        info = _str_type(annotated)
        assert info is not None
        assert info.pattern in wire_patterns, f"{struct.__name__}.{name}"


@pytest.mark.parametrize("trailer", TRAILERS, ids=repr)
@pytest.mark.parametrize(
    ("field", "annotated"), [(n, t) for _, n, t in WIRE_FIELDS], ids=[n for _, n, _ in WIRE_FIELDS]
)
def test_msgspec_refuses_a_trailer_on_every_patterned_field(
    field: str, annotated: Any, trailer: str
) -> None:
    body = order_body("ref-1", smart_wallet_address="W1", return_url="http://127.0.0.1:8010/shop")
    good = body["passkey"][field] if field in body["passkey"] else body[field]
    assert msgspec.convert(good, annotated) == good
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(good + trailer, annotated)


@pytest.mark.parametrize("trailer", TRAILERS, ids=repr)
def test_the_domain_refuses_a_trailer_on_every_field(trailer: str) -> None:
    base: dict[str, Any] = {
        "reference_id": "ref-1",
        "pool_id": "pool-1",
        "token_symbol": "USDC",
        "amount_token": Decimal("10"),
        "min_amount_token_receive": Decimal("9"),
        "price_tolerance_percent": Decimal("1"),
        "fiat_currency": "EUR",
        "price_fiat": Decimal("10"),
        "passkey": Passkey("cred-1", "pk-1"),
        "smart_wallet_address": "W1",
        "return_url": "http://127.0.0.1:8010/shop",
    }
    for name in (
        "reference_id",
        "pool_id",
        "token_symbol",
        "fiat_currency",
        "smart_wallet_address",
        "return_url",
    ):
        with pytest.raises(InvalidOrder) as caught:
            OrderRequest(**{**base, name: base[name] + trailer})
        assert caught.value.field == name
    for name in ("credential_id", "public_key"):
        values = {"credential_id": "cred-1", "public_key": "pk-1", name: "x" + trailer}
        with pytest.raises(InvalidOrder) as caught:
            Passkey(**values)
        assert caught.value.field == f"passkey.{name}"


@pytest.mark.parametrize("trailer", TRAILERS, ids=repr)
def test_the_other_patterns_of_the_api_match_whole(trailer: str) -> None:
    assert observability._REQUEST_ID.fullmatch("req-1")
    assert not observability._REQUEST_ID.fullmatch("req-1" + trailer)
    assert signature._DIGITS.fullmatch("1700000000")
    assert not signature._DIGITS.fullmatch("1700000000" + trailer)
    assert signature._HEX64.fullmatch("a" * 64)
    assert not signature._HEX64.fullmatch("a" * 64 + trailer)


def test_every_error_names_every_field() -> None:
    with pytest.raises(InvalidOrder) as caught:
        OrderRequest(
            reference_id="ref 1",
            pool_id="pool-1",
            token_symbol="USDC",
            amount_token=Decimal("-1"),
            min_amount_token_receive=Decimal("1"),
            price_tolerance_percent=Decimal("-0"),
            fiat_currency="ZZZ",
            price_fiat=Decimal("10"),
            passkey=Passkey("cred-1", "pk-1"),
        )
    assert [f for f, _ in caught.value.errors] == [
        "reference_id",
        "amount_token",
        "price_tolerance_percent",
        "fiat_currency",
    ]
    assert dict(caught.value.errors)["fiat_currency"] == "is not an ISO 4217 currency code"


@pytest.mark.parametrize("text", ["-0", "-0.0", "-0.0000"])
def test_minus_zero_is_refused_where_a_value_may_not_be_negative(text: str) -> None:
    with pytest.raises(InvalidOrder) as caught:
        OrderRequest(
            reference_id="ref-1",
            pool_id="pool-1",
            token_symbol="USDC",
            amount_token=Decimal("10"),
            min_amount_token_receive=Decimal("9"),
            price_tolerance_percent=grammar.parse_decimal(text),
            fiat_currency="EUR",
            price_fiat=Decimal("10"),
            passkey=Passkey("cred-1", "pk-1"),
        )
    assert caught.value.field == "price_tolerance_percent"


def test_currencies_are_checked_against_iso_4217() -> None:
    assert grammar.currency_problem("VND") is None
    assert grammar.currency_problem("EUR") is None
    assert grammar.currency_problem("ZZZ") == "is not an ISO 4217 currency code"
    assert grammar.currency_problem("eur") == grammar.CURRENCY.words


decimals = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=0, max_value=Decimal("1e15"), places=18
)


@given(decimals, st.integers(min_value=0, max_value=6))
def test_value_equal_spellings_have_one_canonical_value(value: Decimal, zeros: int) -> None:
    text = f"{value:f}"
    padded = text + ("" if "." in text else ".") + "0" * zeros if zeros else text
    one, other = grammar.parse_decimal(text), grammar.parse_decimal(padded)
    assert one == value
    assert str(one) == str(other)
    assert decimal_text(one) == decimal_text(other) == decimal_text(Decimal(padded))
    assert Decimal(decimal_text(one)) == value
    if "." in decimal_text(one):
        assert not decimal_text(one).endswith("0")


def test_canonical_spellings() -> None:
    for sent, canonical in [
        ("300000.00", "300000"),
        ("300000", "300000"),
        ("12.500000", "12.5"),
        ("0.000", "0"),
        ("0012.10", "12.1"),
        ("0.0000001", "0.0000001"),
        ("1" + "0" * 20 + ".0", "1" + "0" * 20),  # no rounding to the context's 28 digits
        ("123456789012345.123456789012345678", "123456789012345.123456789012345678"),
    ]:
        assert decimal_text(grammar.parse_decimal(sent)) == canonical


def test_the_clock_tells_whole_milliseconds() -> None:
    for _ in range(50):
        now = SystemClock().now()
        assert now.tzinfo is UTC
        assert now.microsecond % 1000 == 0


def test_depth_scanner() -> None:
    deep = b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1)
    assert too_deep(deep)
    assert not too_deep(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)
    # Brackets inside strings (escaped quotes included) are text, not nesting.
    text = b'{"a": "' + b"[{" * 100 + b'\\"[[["}'
    assert not too_deep(text)
    assert too_deep(b'{"a": "\\"", "b": ' + b"[" * 40 + b"]" * 40 + b"}")


def test_repeated_keys() -> None:
    assert required_keys(CreateOrderBody) == 11
    assert required_keys(PaymentWebhookBody) == 6
    assert repeated_keys(b'{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}') == ["a", "b.c"]
    assert repeated_keys(b'{"a": [{"x": 1, "x": 1}]}') == ["a[0].x"]
    assert repeated_keys(b'{"a": 1, "b": "a: b: c"}') == []
    # Few colons: no body that decodes can hide a repeated key among them; nothing is scanned.
    assert repeated_keys(b'{"a": 1, "a": 2}', min_keys=2) == []
    assert repeated_keys(b'{"a": 1, "a": 2}', min_keys=1) == ["a"]
    assert repeated_keys(b'{"a": ', min_keys=0) == []  # malformed: left to the decoder


def test_times_from_a_vendor_are_cut_to_milliseconds() -> None:
    answer = PaymentStatusAnswer(
        id="pay_1",
        status=PaymentState.COMPLETED,
        amount="10",
        currency="EUR",
        paid_at=datetime(2026, 1, 1, 1, 2, 3, 123456, tzinfo=UTC),
    )
    assert answer.to_port().paid_at == datetime(2026, 1, 1, 1, 2, 3, 123000, tzinfo=UTC)


@pytest.mark.parametrize("trailer", TRAILERS, ids=repr)
def test_a_wallet_address_from_the_wallet_service_obeys_the_same_grammar(trailer: str) -> None:
    # It becomes the transfer's destination: an answer outside the grammar is malformed.
    assert wallet_decoder.decode(b'{"address": "W1", "created": true}').address == "W1"
    with pytest.raises(msgspec.ValidationError):
        wallet_decoder.decode(msgspec.json.encode({"address": "W1" + trailer, "created": True}))
