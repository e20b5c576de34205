"""What a browser frontend on another origin needs from the API: CORS for the allowed origins only
(preflights never rate limited), ``return_url`` on an allowed origin only, ``Location`` on 201,
an offline docs page, and an OpenAPI document that types it all."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import jsonschema_rs
import pytest

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from entrypoints.api.admin import LIST_PARAMETERS
from entrypoints.api.app import create_app
from entrypoints.api.problems import ProblemCode
from entrypoints.settings import Settings
from tests.support.api import PROBLEM, SECRET, UNLIMITED, Api, api_starter
from tests.support.orders import order_body

SHOP = "http://127.0.0.1:8010"
OTHER = "http://localhost:3000"


def _settings(*origins: str, per_minute: int = UNLIMITED) -> Settings:
    return Settings(
        mode="dev",
        payment_webhook_secrets=(SECRET,),
        rate_limit_per_minute=per_minute,
        cors_allowed_origins=origins,
    )


@pytest.fixture
async def browser_api() -> AsyncIterator[Api]:
    start = api_starter(_settings(SHOP, OTHER), FakePaymentGateway(SystemClock()))
    async with start() as running:
        yield running


def _preflight(origin: str, method: str = "POST", headers: str = "content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


# --- CORS ----------------------------------------------------------------------------------------


async def test_without_allowed_origins_no_cors_header_is_sent(api: Api) -> None:
    preflight = await api.client.options("/api/orders", headers=_preflight(SHOP))
    read = await api.client.get("/api/orders/nope", headers={"Origin": SHOP})

    for response in (preflight, read):
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]


async def test_a_preflight_from_an_allowed_origin_allows_what_the_routes_use(
    browser_api: Api,
) -> None:
    response = await browser_api.client.options(
        "/api/orders", headers=_preflight(SHOP, headers="content-type, authorization")
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SHOP
    assert response.headers["access-control-allow-methods"] == "GET, POST"
    allowed = {
        h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")
    }
    assert {"content-type", "authorization", "x-request-id"} <= allowed
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("http://evil.example", "POST", "content-type"),  # not an allowed origin
        ("http://127.0.0.1:8011", "POST", "content-type"),  # another port is another origin
        (SHOP, "DELETE", "content-type"),  # no route takes DELETE
        (SHOP, "POST", "x-custom"),  # a header no route reads
    ],
)
async def test_a_preflight_outside_the_rules_is_refused(
    browser_api: Api, origin: str, method: str, headers: str
) -> None:
    response = await browser_api.client.options(
        "/api/orders", headers=_preflight(origin, method, headers)
    )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


async def test_an_answer_to_an_allowed_origin_exposes_the_headers_a_frontend_reads(
    browser_api: Api,
) -> None:
    created = await browser_api.client.post(
        "/api/orders", json=order_body("cors-1"), headers={"Origin": OTHER}
    )
    refused = await browser_api.client.get("/api/orders/nope", headers={"Origin": "http://evil"})

    assert created.status_code == 201
    assert created.headers["access-control-allow-origin"] == OTHER
    exposed = {h.strip() for h in created.headers["access-control-expose-headers"].split(",")}
    assert exposed >= {"X-Request-ID", "Location", "Retry-After"}
    assert "access-control-allow-origin" not in refused.headers


async def test_preflights_and_options_never_count_against_the_rate_limit() -> None:
    start = api_starter(_settings(SHOP, per_minute=2), FakePaymentGateway(SystemClock()))
    async with start() as running:
        for _ in range(5):
            preflight = await running.client.options("/api/orders", headers=_preflight(SHOP))
            bare = await running.client.options("/api/orders")
            assert preflight.status_code == 204
            assert bare.status_code == 204
        answers = [
            (await running.client.get("/api/orders/nope", headers={"Origin": SHOP})).status_code
            for _ in range(3)
        ]

    # The two requests of the minute are still there for the real calls.
    assert answers == [404, 404, 429]


# --- return_url and Location ---------------------------------------------------------------------


async def test_a_return_url_on_an_allowed_origin_reaches_the_gateway(browser_api: Api) -> None:
    back = f"{SHOP}/shop?reference_id=ret-1"
    response = await browser_api.create(order_body("ret-1", return_url=back))

    assert response.status_code == 201, response.text
    payment = browser_api.gateway.payments[response.json()["payment"]["id"]]
    assert payment.request.return_url == back
    stored = await browser_api.repository.get_by_reference_id("ret-1")
    assert stored is not None
    assert stored.request.return_url == back
    # The same body again replays; another return_url under the same reference id conflicts.
    again = await browser_api.create(order_body("ret-1", return_url=back))
    other = await browser_api.create(order_body("ret-1", return_url=f"{OTHER}/x"))
    assert again.status_code == 201
    assert other.status_code == 409


@pytest.mark.parametrize(
    "return_url",
    [
        "http://evil.example/shop",
        "http://127.0.0.1:8011/shop",  # another port
        "https://127.0.0.1:8010/shop",  # another scheme
        "javascript:alert(1)",
        "/shop",  # relative: no origin
    ],
)
async def test_a_return_url_elsewhere_is_a_400_naming_it_and_nothing_is_made(
    browser_api: Api, return_url: str
) -> None:
    response = await browser_api.create(order_body("ret-bad", return_url=return_url))

    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert [e["field"] for e in response.json()["errors"]] == ["return_url"]
    assert browser_api.gateway.create_calls == 0
    assert await browser_api.repository.get_by_reference_id("ret-bad") is None


async def test_without_allowed_origins_no_return_url_is_accepted(api: Api) -> None:
    response = await api.create(order_body("ret-none", return_url=f"{SHOP}/shop"))

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "return_url"


async def test_a_201_names_the_order_in_location(api: Api) -> None:
    first = await api.create(order_body("loc-1"))
    replay = await api.create(order_body("loc-1"))

    order_id = first.json()["id"]
    assert first.headers["location"] == f"/api/orders/{order_id}"
    assert replay.headers["location"] == f"/api/orders/{order_id}"
    read = await api.client.get(first.headers["location"])
    assert read.status_code == 200
    assert read.json()["id"] == order_id


# --- the docs page, offline ----------------------------------------------------------------------


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_the_docs_page_loads_only_same_origin_assets_and_they_are_served(
    api: Api, page: str
) -> None:
    response = await api.client.get(page)
    assert response.status_code == 200
    parser = _Assets()
    parser.feed(response.text)

    assert len(parser.urls) >= 3  # the stylesheet, the bundle, the preset (and the icon)
    assert not re.search(r"https?://|//cdn", response.text.split("<body>")[0])
    for url in parser.urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        asset = await api.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url
    kinds = {(await api.client.get(u)).headers["content-type"].split(";")[0] for u in parser.urls}
    assert {"text/css", "text/javascript"} <= kinds


# --- the OpenAPI document ------------------------------------------------------------------------

DOCUMENT: dict[str, Any] = json.loads(
    json.dumps(create_app(_settings()).openapi_schema.to_schema())
)
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
OPERATIONS = {
    op["operationId"]: (path, method, op)
    for path, item in DOCUMENT["paths"].items()
    for method, op in item.items()
}


def test_operation_ids_are_readable() -> None:
    assert set(OPERATIONS) == {
        "createOrder",
        "findOrder",
        "getOrder",
        "receivePaymentEvent",
        "getHealth",
        "getReadiness",
        "listAdminOrders",
        "getAdminOrderHistory",
        "getOrderEvents",
        "getAdminOrderEvents",
        "redeliverAdminOrderEvents",
        "redeliverAdminEvent",
        "receiveNowPaymentsIpn",
        "getAdminStats",
        "retryAdminOrder",
        "refundAdminOrder",
        "getAdminPeriodStats",
        "retryAdminOrderTransfer",
    }


def test_statuses_and_problem_codes_are_enums() -> None:
    assert SCHEMAS["OrderStatus"]["enum"][0] == "pending"
    assert len(SCHEMAS["OrderStatus"]["enum"]) == 8
    assert set(SCHEMAS["ProblemCode"]["enum"]) == {c.value for c in ProblemCode}
    assert set(SCHEMAS["PaymentState"]["enum"]) >= {"pending", "completed", "failed"}
    assert set(SCHEMAS["TransferState"]["enum"]) == {"submitted", "confirmed", "failed"}
    refs = {
        name: json.dumps(SCHEMAS[name]["properties"]["status"])
        for name in ("OrderView", "StatusChangeView", "OrderSummary")
    }
    for name, text in refs.items():
        assert "#/components/schemas/OrderStatus" in text, name
    assert "#/components/schemas/ProblemCode" in json.dumps(SCHEMAS["Problem"]["properties"])


def _response_schemas() -> set[str]:
    """Every component reachable from an answer (not from a request body)."""
    found: set[str] = set()
    pending = [
        m.group(1)
        for _, _, op in OPERATIONS.values()
        for m in re.finditer(r"#/components/schemas/(\w+)", json.dumps(op["responses"]))
    ]
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending += re.findall(r"#/components/schemas/(\w+)", json.dumps(SCHEMAS[name]))
    return found


def test_every_field_of_every_answer_is_described() -> None:
    names = _response_schemas()
    assert {"OrderView", "PaymentView", "Problem", "OrderListing", "StatsView"} <= names
    undescribed = [
        f"{name}.{field}"
        for name in sorted(names)
        for field, spec in (SCHEMAS[name].get("properties") or {}).items()
        if not spec.get("description")
    ]
    assert undescribed == []


def test_every_example_is_valid_for_its_field() -> None:
    registry = jsonschema_rs.Registry([("urn:doc", DOCUMENT)])

    def validator(pointer: str) -> jsonschema_rs.Draft202012Validator:
        return jsonschema_rs.Draft202012Validator({"$ref": f"urn:doc#{pointer}"}, registry=registry)

    checked = 0
    for name, schema in SCHEMAS.items():
        for field, spec in (schema.get("properties") or {}).items():
            check = validator(f"/components/schemas/{name}/properties/{field}")
            for example in spec.get("examples") or []:
                assert check.is_valid(example), (name, field, example)
                checked += 1
    for operation_id, (_, _, op) in OPERATIONS.items():
        for parameter in op.get("parameters", []):
            rooted = json.dumps(parameter["schema"]).replace('"#/', '"urn:doc#/')
            check = jsonschema_rs.Draft202012Validator(json.loads(rooted), registry=registry)
            for example in (parameter.get("examples") or {}).values():
                assert check.is_valid(example["value"]), (operation_id, parameter["name"])
                checked += 1
    assert checked > 50
    # The check can fail: a misspelt status is not a valid example of the status.
    assert not validator("/components/schemas/OrderView/properties/status").is_valid("complete")


def test_parameters_and_headers_are_declared() -> None:
    _, _, listing = OPERATIONS["listAdminOrders"]
    parameters = {p["name"]: p for p in listing["parameters"]}
    # Exactly what the route accepts (any other name is refused: test_admin_api.py).
    assert set(parameters) == LIST_PARAMETERS
    for name, parameter in parameters.items():
        assert parameter["in"] == "query"
        assert parameter["description"], name
    limit = parameters["limit"]["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 200)
    assert parameters["status"]["schema"]["items"]["enum"][0] == "pending"

    _, _, webhook = OPERATIONS["receivePaymentEvent"]
    (signature,) = [p for p in webhook["parameters"] if p["in"] == "header"]
    assert signature["name"] == "X-Signature"
    assert signature["required"] is True
    assert signature["schema"]["maxLength"] == 1024

    _, _, create = OPERATIONS["createOrder"]
    assert create["responses"]["201"]["headers"]["Location"]["required"] is True
    for operation_id, (_, _, op) in OPERATIONS.items():
        for status, answer in op["responses"].items():
            assert "X-Request-ID" in answer["headers"], (operation_id, status)
        for status in ("429", "503"):
            if status in op["responses"]:
                headers = op["responses"][status].get("headers", {})
                assert "Retry-After" in headers, (operation_id, status)
