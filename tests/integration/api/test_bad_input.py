"""Every kind of bad input, each its own test: a 4xx problem naming the field, never a 500,
and nothing stored (no order, no gateway call). One server serves the whole module: no case may
store anything, so they cannot disturb each other."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.support.api import PROBLEM, Api, StartApi
from tests.support.orders import order_body

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared_api(
    start_api_module: StartApi,
) -> AsyncIterator[Api]:
    async with start_api_module() as running:
        yield running


def _with(**values: Any) -> dict[str, Any]:
    return {**order_body("ref-bad"), **values}


def _without(field: str) -> dict[str, Any]:
    body = order_body("ref-bad")
    del body[field]
    return body


def _passkey(**values: Any) -> dict[str, Any]:
    return _with(passkey={"credential_id": "c", "public_key": "k", **values})


def case(case_id: str, body: Any, field: str) -> Any:
    """One bad body and the field its answer must name."""
    return pytest.param(body, field, id=case_id)


BAD_BODIES = [
    case("wrong type: amount as a JSON number", _with(amount_token=12.5), "amount_token"),
    case("wrong type: reference_id as a number", _with(reference_id=7), "reference_id"),
    case("wrong type: passkey as a string", _with(passkey="abc"), "passkey"),
    case("wrong type: body is an array", [order_body("ref-bad")], "body"),
    case("wrong type: body is null", None, "body"),
    case("missing field: reference_id", _without("reference_id"), "reference_id"),
    case("missing field: amount_token", _without("amount_token"), "amount_token"),
    case("missing field: passkey", _without("passkey"), "passkey"),
    case("missing nested field", _with(passkey={"credential_id": "c"}), "passkey.public_key"),
    case("unknown field", _with(coupon="FREE"), "coupon"),
    case("unknown nested field", _passkey(algorithm="ES256"), "passkey.algorithm"),
    case("negative amount", _with(amount_token="-1"), "amount_token"),
    case("zero amount", _with(amount_token="0", min_amount_token_receive="0"), "amount_token"),
    case("zero price", _with(price_fiat="0.00"), "price_fiat"),
    case("NaN amount", _with(amount_token="NaN"), "amount_token"),
    case("Infinity amount", _with(amount_token="Infinity"), "amount_token"),
    case("-Infinity price", _with(price_fiat="-Infinity"), "price_fiat"),
    case("exponent notation", _with(price_fiat="1e3"), "price_fiat"),
    case("absurdly precise amount", _with(amount_token="1." + "1" * 19), "amount_token"),
    case("absurdly precise price", _with(price_fiat="13.10001"), "price_fiat"),
    case("absurdly long amount", _with(amount_token="1" * 65), "amount_token"),
    case(
        "absurdly large amount",
        _with(amount_token="1" + "0" * 15, min_amount_token_receive="1"),
        "amount_token",
    ),
    case(
        "min receive above amount",
        _with(min_amount_token_receive="12.6"),
        "min_amount_token_receive",
    ),
    case("tolerance below 0", _with(price_tolerance_percent="-0.1"), "price_tolerance_percent"),
    case("tolerance above 100", _with(price_tolerance_percent="100.5"), "price_tolerance_percent"),
    case("currency lower case", _with(fiat_currency="eur"), "fiat_currency"),
    case("currency four letters", _with(fiat_currency="EURO"), "fiat_currency"),
    case("currency with a digit", _with(fiat_currency="E1R"), "fiat_currency"),
    case("empty reference_id", _with(reference_id=""), "reference_id"),
    case("over-long reference_id", _with(reference_id="r" * 129), "reference_id"),
    case("reference_id with a space", _with(reference_id="ref bad"), "reference_id"),
    case("empty pool_id", _with(pool_id=""), "pool_id"),
    case("over-long pool_id", _with(pool_id="p" * 129), "pool_id"),
    case("empty token_symbol", _with(token_symbol=""), "token_symbol"),
    case("empty passkey credential", _passkey(credential_id=""), "passkey.credential_id"),
    case("over-long passkey public key", _passkey(public_key="k" * 4097), "passkey.public_key"),
    case("empty smart_wallet_address", _with(smart_wallet_address=""), "smart_wallet_address"),
]


async def _assert_nothing_stored(api: Api) -> None:
    assert api.repository.all() == []
    assert api.gateway.create_calls == 0
    lookup = await api.client.get("/api/orders", params={"reference_id": "ref-bad"})
    assert lookup.status_code == 404


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
async def test_a_bad_body_is_a_400_naming_the_field(shared_api: Api, body: Any, field: str) -> None:
    response = await shared_api.client.post(
        "/api/orders",
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 400
    assert problem["title"] == "Bad Request"
    assert problem["detail"]
    assert field in [e["field"] for e in problem["errors"]]
    await _assert_nothing_stored(shared_api)


async def test_malformed_json_is_a_400(shared_api: Api) -> None:
    response = await shared_api.client.post(
        "/api/orders",
        content=b'{"reference_id": "ref-bad",',
        headers={"content-type": "application/json"},
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "malformed_json"
    assert [e["field"] for e in response.json()["errors"]] == ["body"]
    await _assert_nothing_stored(shared_api)


async def test_a_body_over_64_kib_is_a_413(shared_api: Api) -> None:
    body = order_body("ref-bad", pool_id="p" * (65 * 1024))

    response = await shared_api.client.post("/api/orders", json=body)

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 413
    await _assert_nothing_stored(shared_api)


async def test_a_body_over_64_kib_without_content_length_is_a_413(shared_api: Api) -> None:
    # Chunked: the limit holds on the bytes actually read, not only on the announced length.
    payload = json.dumps(order_body("ref-bad", pool_id="p" * (65 * 1024))).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 8192):
            yield payload[start : start + 8192]

    response = await shared_api.client.post(
        "/api/orders", content=chunks(), headers={"content-type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    await _assert_nothing_stored(shared_api)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", None],
    ids=["text", "form", "xml", "missing"],
)
async def test_a_wrong_content_type_is_a_415(shared_api: Api, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    body = json.dumps(order_body("ref-bad")).encode()

    response = await shared_api.client.post("/api/orders", content=body, headers=headers)

    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 415
    await _assert_nothing_stored(shared_api)


async def test_json_with_a_charset_is_accepted(shared_api: Api) -> None:
    # The positive control of the 415 cases: the same route does accept JSON. It stores nothing
    # either, because the body is otherwise invalid (tolerance above 100).
    body = json.dumps(order_body("ref-bad", price_tolerance_percent="101")).encode()

    response = await shared_api.client.post(
        "/api/orders", content=body, headers={"content-type": "application/json; charset=utf-8"}
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "price_tolerance_percent"


# --- one grammar, whole values ---------------------------------------------------------------

#: Characters a line-oriented check lets through at the end of a value.
TRAILERS = ["\n", "\r", "\x00", "\u2028", "\u2029", "\x85"]
#: Every constrained string of the body, by its field path.
CONSTRAINED = {
    "reference_id": "ref-bad",
    "pool_id": "pool-1",
    "token_symbol": "USDC",
    "amount_token": "12.5",
    "min_amount_token_receive": "12.4",
    "price_tolerance_percent": "1.5",
    "fiat_currency": "VND",
    "price_fiat": "13.1",
    "passkey.credential_id": "c",
    "passkey.public_key": "k",
    "smart_wallet_address": "W1",
}


def _set(path: str, value: Any) -> dict[str, Any]:
    body = order_body("ref-bad", smart_wallet_address="W1")
    holder, _, key = path.rpartition(".")
    (body[holder] if holder else body)[key] = value
    return body


@pytest.mark.parametrize("trailer", TRAILERS, ids=repr)
@pytest.mark.parametrize("path", list(CONSTRAINED))
async def test_a_trailing_line_break_or_nul_is_refused_on_every_field(
    shared_api: Api, path: str, trailer: str
) -> None:
    response = await shared_api.client.post(
        "/api/orders", json=_set(path, CONSTRAINED[path] + trailer)
    )

    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [path]
    await _assert_nothing_stored(shared_api)


def _messages(response: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def _plain(message: str) -> bool:
    """No regex, no type syntax, no Python exception text."""
    return not any(mark in message for mark in ("`", "\\", "^", "$", "regex", "Expected"))


async def test_an_empty_object_names_every_missing_field(shared_api: Api) -> None:
    response = await shared_api.client.post("/api/orders", json={})

    assert response.status_code == 400
    # Every field of the smallest valid body (the optional ones are not in it).
    assert _messages(response) == dict.fromkeys(order_body(), "is required")
    await _assert_nothing_stored(shared_api)


async def test_every_offending_field_is_named_in_plain_words(shared_api: Api) -> None:
    body = {
        **order_body("ref-bad"),
        "amount_token": "1e3",  # grammar
        "min_amount_token_receive": 7,  # type
        "price_tolerance_percent": "101",  # domain range
        "fiat_currency": "ZZZ",  # not ISO 4217
        "pool_id": "",  # empty
        "passkey": {"credential_id": "c\n"},  # grammar and a missing nested field
        "coupon": "FREE",  # unknown
    }

    response = await shared_api.client.post("/api/orders", json=body)

    assert response.status_code == 400
    messages = _messages(response)
    assert set(messages) == {
        "amount_token",
        "min_amount_token_receive",
        "price_tolerance_percent",
        "fiat_currency",
        "pool_id",
        "passkey.credential_id",
        "passkey.public_key",
        "coupon",
    }
    assert messages["fiat_currency"] == "is not an ISO 4217 currency code"
    assert messages["min_amount_token_receive"] == (
        'must be a decimal number in a string, such as "12.50" (not a JSON number)'
    )
    assert messages["price_tolerance_percent"] == "must be between 0 and 100"
    assert messages["pool_id"] == "must not be empty"
    assert messages["passkey.public_key"] == "is required"
    assert messages["coupon"] == "is not a field of this body"
    assert all(_plain(m) for m in messages.values()), messages
    await _assert_nothing_stored(shared_api)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_with(fiat_currency="ZZZ"), "fiat_currency"),
        (_with(price_tolerance_percent="-0"), "price_tolerance_percent"),
        (_with(price_tolerance_percent="-0.00"), "price_tolerance_percent"),
    ],
    ids=["not ISO 4217", "minus zero", "minus zero with a fraction"],
)
async def test_a_value_only_the_domain_refuses_is_named(
    shared_api: Api, body: dict[str, Any], field: str
) -> None:
    response = await shared_api.client.post("/api/orders", json=body)

    assert response.status_code == 400, response.text
    assert list(_messages(response)) == [field]
    await _assert_nothing_stored(shared_api)


@pytest.mark.parametrize("content", [b"", b"   ", b"\r\n"], ids=["empty", "spaces", "newline"])
async def test_an_empty_body_is_a_clear_400(shared_api: Api, content: bytes) -> None:
    response = await shared_api.client.post(
        "/api/orders", content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "body_required"
    assert problem["errors"] == [{"field": "body", "message": "is required: send a JSON object"}]
    await _assert_nothing_stored(shared_api)


def _raw_with_repeated(key_line: str) -> bytes:
    text = json.dumps(order_body("ref-bad"))
    return (text[:-1] + ", " + key_line + "}").encode()


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (_raw_with_repeated('"amount_token": "99"'), "amount_token"),
        (
            _raw_with_repeated('"smart_wallet_address": "W1", "smart_wallet_address": "W2"'),
            "smart_wallet_address",
        ),
        (
            json.dumps(order_body("ref-bad"))
            .replace('"credential_id"', '"credential_id": "other", "credential_id"')
            .encode(),
            "passkey.credential_id",
        ),
    ],
    ids=["top level", "optional field twice", "nested"],
)
async def test_a_repeated_key_is_a_400_naming_it(
    shared_api: Api, content: bytes, field: str
) -> None:
    response = await shared_api.client.post(
        "/api/orders", content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "duplicate_key"
    assert [e["field"] for e in problem["errors"]] == [field]
    await _assert_nothing_stored(shared_api)


# --- depth -------------------------------------------------------------------------------------


def _deep(depth: int) -> bytes:
    return b'{"reference_id": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [33, 1000, 20_000])
async def test_a_deeply_nested_body_is_a_400_not_a_500(shared_api: Api, depth: int) -> None:
    response = await shared_api.client.post(
        "/api/orders", content=_deep(depth), headers={"content-type": "application/json"}
    )

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "body_too_deep"
    await _assert_nothing_stored(shared_api)


async def test_nesting_up_to_the_limit_is_decoded_and_judged_on_its_fields(
    shared_api: Api,
) -> None:
    # The control: 32 deep is not refused for its depth, only for what it holds.
    response = await shared_api.client.post(
        "/api/orders", content=_deep(31), headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "reference_id" in _messages(response)
