"""Every bad input of the issue, each its own test: a 4xx problem naming the field, never a 500,
and nothing stored (no order, no gateway call). One server serves the whole module: no case may
store anything, so they cannot disturb each other."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.integration.api.conftest import PROBLEM, Api, StartApi, order_body

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
