"""Every ``code`` the API can answer is one of ``ProblemCode``, the enum the OpenAPI document
publishes (a typed client switches on it)."""

from __future__ import annotations

import msgspec
import pytest
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from adapters.fakes.gateway import SERVICE as GATEWAY
from adapters.fakes.transfers import SERVICE as TRANSFERS
from adapters.fakes.wallets import SERVICE as WALLETS
from adapters.http.nowpayments import SERVICE as NOWPAYMENTS
from application.errors import (
    Conflict,
    CorruptDocument,
    DownstreamError,
    DownstreamTimeout,
    IdempotencyConflict,
    InfrastructureUnavailable,
    NotFound,
    PermanentDownstreamError,
    RequestRefused,
)
from domain import OrderStatus
from domain.errors import InvalidOrder, InvalidTransition
from entrypoints.api.problems import ProblemCode, UnsupportedMediaType, problem, problem_for

#: Every downstream an API answer can name (NOWPayments when it is the payment gateway).
SERVICES = (GATEWAY, WALLETS, TRANSFERS, NOWPAYMENTS)


def _malformed_json() -> ClientException:
    exc = ClientException("Expecting value")
    exc.__cause__ = SerializationException("Expecting value")
    return exc


EXCEPTIONS: list[Exception] = [
    InvalidOrder("amount_token", "must be greater than 0"),
    InvalidTransition("o-1", OrderStatus.COMPLETED, OrderStatus.PENDING),
    NotFound("no order"),
    IdempotencyConflict("reused"),
    Conflict("conflict"),
    CorruptDocument("o-1", "bad"),
    *[DownstreamTimeout(s, "slow") for s in SERVICES],
    *[PermanentDownstreamError(s, "404") for s in SERVICES],
    *[RequestRefused(s, "400") for s in SERVICES],
    *[DownstreamError(s, "503") for s in SERVICES],
    *[
        InfrastructureUnavailable(c, "down")
        for c in ("mongodb", "repository", "queue", "repository_and_queue")
    ],
    ValidationException("bad", extra=[{"key": "limit", "message": "too big"}]),
    _malformed_json(),
    UnsupportedMediaType("text/plain"),
    RequestEntityTooLarge(),
    NotFoundException(),
    MethodNotAllowedException(),
    NotAuthorizedException("no token"),
    PermissionDeniedException(),
    ClientException("bad request"),
    HTTPException(status_code=429),
    HTTPException(status_code=503),
    HTTPException(status_code=500),
    RuntimeError("a bug"),
]


@pytest.mark.parametrize("exc", EXCEPTIONS, ids=lambda e: type(e).__name__)
def test_every_mapped_error_has_a_published_code(exc: Exception) -> None:
    answer = problem_for(exc)
    body = msgspec.json.decode(msgspec.json.encode(answer.content))

    assert body["code"] in {c.value for c in ProblemCode}, body


def test_the_rate_limits_and_the_admin_codes_are_published() -> None:
    for code in ("rate_limited", "invalid_parameter"):
        assert problem(400, code, "x").content.code in set(ProblemCode)
