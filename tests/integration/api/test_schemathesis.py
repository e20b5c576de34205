"""Fuzz the API from its own OpenAPI document (schemathesis, positive and negative cases): no
answer is a 5xx, and every answer (status, content type, headers, body) is the one documented.

The app runs under uvicorn in a thread (schemathesis calls synchronously); webhook cases are
signed with the configured secret so that they get past the 401 into the body handling.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from adapters.http.webhook_signature import signature_header
from entrypoints.api.app import create_app
from entrypoints.settings import Settings
from testkit.server import serve_in_thread
from tests.support.api import SECRET

MIN_REQUESTS = 500
WEBHOOK_PATH = "/api/webhooks/payments"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
#: Examples per operation; the two probes take no input, so the others carry the count.
EXAMPLES = {
    "POST /api/orders": 220,
    "GET /api/orders": 90,
    "GET /api/orders/{order_id}": 90,
    f"POST {WEBHOOK_PATH}": 150,
}
sent: list[str] = []
answers: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with serve_in_thread(create_app(_SETTINGS), startup_timeout=20) as url:
        yield url


# The app's own document, generated without serving it; test_the_served_document_is_the_one_fuzzed
# checks that /schema/openapi.json serves this very document. (schemathesis.pytest.from_fixture
# would load it from the server, but does not work with pytest 9.)
_SETTINGS = Settings(mode="dev", payment_webhook_secrets=(SECRET,), rate_limit_per_minute=1_000_000)
DOCUMENT = create_app(_SETTINGS).openapi_schema.to_schema()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def _signed_webhook_call(case: Any, base_url: str) -> Any:
    """Send the generated body as raw bytes with a valid signature over exactly those bytes."""
    if case.media_type != "application/json" or case.body is None:
        return case.call(base_url=base_url)
    try:
        raw = json.dumps(case.body).encode()
    except (TypeError, ValueError):
        return case.call(base_url=base_url)
    header = signature_header([SECRET], int(time.time()), raw)
    return case.call(base_url=base_url, headers={"X-Signature": header}, data=raw)


@schema.parametrize()
@settings(
    max_examples=max(EXAMPLES.values()),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_answer_is_documented_and_none_is_a_5xx(case: Any, api_url: str) -> None:
    operation = f"{case.method.upper()} {case.path}"
    limit = EXAMPLES.get(operation, 5)
    if sum(1 for s in sent if s == operation) >= limit:
        return  # this operation has had its share
    sent.append(operation)
    checks = CHECKS
    if case.path == WEBHOOK_PATH:
        response = _signed_webhook_call(case, api_url)
        if _headers_were_negative(case):
            # The harness replaced the generated (schema-violating) X-Signature with a valid one:
            # what was sent is not the negative case schemathesis made.
            checks = [c for c in CHECKS if c is not negative_data_rejection]
    else:
        response = case.call(base_url=api_url)
    answers[(operation, response.status_code)] += 1
    case.validate_response(response, checks=checks)


def _headers_were_negative(case: Any) -> bool:
    info = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    return info is not None and info.mode == GenerationMode.NEGATIVE


def test_the_served_document_is_the_one_fuzzed(api_url: str) -> None:
    assert httpx.get(f"{api_url}/schema/openapi.json").json() == json.loads(json.dumps(DOCUMENT))


def test_enough_requests_were_generated(request: pytest.FixtureRequest) -> None:
    # Runs after the parametrized test above (pytest keeps the module's order) and counts what
    # it sent. Selected without it (e.g. ``-k``), there is nothing to count: skip, don't fail.
    fuzz = test_every_answer_is_documented_and_none_is_a_5xx.__name__
    if not any(getattr(item, "originalname", "") == fuzz for item in request.session.items):
        pytest.skip("the fuzz test is not part of this run")
    assert len(sent) >= MIN_REQUESTS, f"only {len(sent)} generated requests"
    # The fuzzing reached past validation: orders were created, and replayed or refused.
    assert answers[("POST /api/orders", 201)] > 0
    assert answers[("POST /api/orders", 400)] > 0
    assert {s.split(" ", 1)[1] for s in sent} >= {
        "/api/orders",
        "/api/orders/{order_id}",
        WEBHOOK_PATH,
        "/health",
        "/ready",
    }
