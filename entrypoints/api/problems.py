"""The one place that turns errors into answers: RFC 9457 ``application/problem+json``.

Every error leaves the API in the same shape: ``type``, ``title`` (the HTTP reason phrase, as RFC
9457 asks of ``about:blank``), ``status``, ``detail``, a machine-readable ``code`` and, for
validation errors, ``errors: [{field, message}]``. Domain and application errors, Litestar's own
(validation, 404, 405, 413) and our 401/415 all map here; anything else is a bug: logged with its
traceback and answered with a plain 500 that reveals nothing.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from http import HTTPStatus
from typing import Annotated, Any, cast

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.datastructures import ResponseSpec

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
from domain.errors import InvalidOrder, InvalidTransition
from entrypoints.api.bodies import InvalidBody, every_problem, plain

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Seconds a client (or the gateway) is asked to wait before retrying a 503.
RETRY_AFTER_SECONDS = 5


class ProblemCode(StrEnum):
    """Every ``code`` a problem answer can carry (the OpenAPI document lists them as an enum)."""

    # the input
    INVALID_ORDER = "invalid_order"
    VALIDATION_ERROR = "validation_error"
    MALFORMED_JSON = "malformed_json"
    INVALID_PARAMETER = "invalid_parameter"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_FOUND = "not_found"
    NOT_ACCEPTABLE = "not_acceptable"
    INVALID_SIGNATURE = "invalid_signature"
    RATE_LIMITED = "rate_limited"
    # what is stored
    CONFLICT = "conflict"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    INVALID_TRANSITION = "invalid_transition"
    # downstream services: ``<service>_timeout|_rejected|_unavailable``
    PAYMENT_GATEWAY_TIMEOUT = "payment_gateway_timeout"
    PAYMENT_GATEWAY_REJECTED = "payment_gateway_rejected"
    PAYMENT_GATEWAY_UNAVAILABLE = "payment_gateway_unavailable"
    WALLET_SERVICE_TIMEOUT = "wallet_service_timeout"
    WALLET_SERVICE_REJECTED = "wallet_service_rejected"
    WALLET_SERVICE_UNAVAILABLE = "wallet_service_unavailable"
    TRANSFER_SERVICE_TIMEOUT = "transfer_service_timeout"
    TRANSFER_SERVICE_REJECTED = "transfer_service_rejected"
    TRANSFER_SERVICE_UNAVAILABLE = "transfer_service_unavailable"
    PAYMENT_GATEWAY_REFUSED_REQUEST = "payment_gateway_refused_request"
    WALLET_SERVICE_REFUSED_REQUEST = "wallet_service_refused_request"
    TRANSFER_SERVICE_REFUSED_REQUEST = "transfer_service_refused_request"
    # NOWPayments, when it is the payment gateway (PAYMENT_PROVIDER=nowpayments)
    NOWPAYMENTS_TIMEOUT = "nowpayments_timeout"
    NOWPAYMENTS_REJECTED = "nowpayments_rejected"
    NOWPAYMENTS_UNAVAILABLE = "nowpayments_unavailable"
    NOWPAYMENTS_REFUSED_REQUEST = "nowpayments_refused_request"
    # our own store and queue: ``<component>_unavailable``
    MONGODB_UNAVAILABLE = "mongodb_unavailable"
    REPOSITORY_UNAVAILABLE = "repository_unavailable"
    QUEUE_UNAVAILABLE = "queue_unavailable"
    REPOSITORY_AND_QUEUE_UNAVAILABLE = "repository_and_queue_unavailable"
    INTERNAL_ERROR = "internal_error"
    # Litestar's other HTTP errors: the reason phrase in snake case
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    TOO_MANY_REQUESTS = "too_many_requests"
    INTERNAL_SERVER_ERROR = "internal_server_error"
    SERVICE_UNAVAILABLE = "service_unavailable"


class FieldError(msgspec.Struct, frozen=True):
    """One offending input: a dotted path into the body (``passkey.public_key``) or a parameter
    name (``reference_id``)."""

    field: Annotated[
        str,
        msgspec.Meta(
            description="A dotted path into the body, or a parameter's name.",
            examples=["passkey.public_key"],
        ),
    ]
    message: Annotated[
        str,
        msgspec.Meta(description="What is wrong with it.", examples=["must be greater than 0"]),
    ]


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details."""

    type: Annotated[str, msgspec.Meta(description="Always `about:blank`.")] = "about:blank"
    title: Annotated[
        str, msgspec.Meta(description="The HTTP reason phrase.", examples=["Bad Request"])
    ]
    status: Annotated[int, msgspec.Meta(description="The HTTP status.", examples=[400])]
    detail: Annotated[
        str,
        msgspec.Meta(description="What happened, for a person.", examples=["invalid input"]),
    ]
    code: Annotated[
        ProblemCode,
        msgspec.Meta(description="What happened, for a program.", examples=["validation_error"]),
    ]
    errors: Annotated[
        list[FieldError] | None,
        msgspec.Meta(description="Each offending field (validation errors only)."),
    ] = None


class UnsupportedMediaType(ClientException):
    """A body whose content type the route does not take: 415."""

    status_code = 415


class SignatureRejected(NotAuthorizedException):
    """The webhook's ``X-Signature`` is missing, forged or too old."""


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Problem]:
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        # Documented as the enum; tests/unit/test_problem_codes.py keeps the two in step.
        code=cast(ProblemCode, code),
        errors=errors,
    )
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_for(exc: Exception) -> Response[Problem]:
    """The answer to ``exc``: the mapping table of the whole API."""
    match exc:
        # --- the domain ---
        case InvalidOrder():
            errors = [FieldError(field=f, message=m) for f, m in exc.errors]
            return problem(400, "invalid_order", _invalid(errors), errors=errors)
        case InvalidBody():
            errors = [FieldError(field=f, message=m) for f, m in exc.errors]
            return problem(400, exc.code, exc.detail, errors=errors)
        case InvalidTransition():
            return problem(409, "invalid_transition", str(exc))
        # --- the application ---
        case NotFound():
            return problem(404, "not_found", str(exc))
        case IdempotencyConflict():
            return problem(409, "idempotency_conflict", str(exc))
        case Conflict():
            return problem(409, "conflict", str(exc))
        case DownstreamTimeout():
            return problem(
                504, f"{exc.service}_timeout", f"{exc.service} did not answer in time; retry"
            )
        case RequestRefused():
            # The call carried the caller's input and was refused for it: theirs to change.
            return problem(
                422,
                f"{exc.service}_refused_request",
                f"{exc.service} refused this request: {exc.reason}",
            )
        case PermanentDownstreamError():
            return problem(502, f"{exc.service}_rejected", f"{exc.service} refused: {exc.reason}")
        case DownstreamError():
            return problem(
                502, f"{exc.service}_unavailable", f"{exc.service} is unavailable; retry"
            )
        case InfrastructureUnavailable():
            log.warning("answering 503: %s", exc)
            return problem(
                503,
                f"{exc.component}_unavailable",
                f"{exc.component} is unavailable; retry later",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )
        case CorruptDocument():
            log.error("a stored order does not decode: %s", exc)
            return problem(500, "internal_error", "the service failed; it has been logged")
        # --- Litestar's own ---
        case ValidationException():
            errors = field_errors(exc)
            return problem(400, "validation_error", _invalid(errors), errors=errors or None)
        case SignatureRejected():
            return problem(401, "invalid_signature", str(exc.detail))
        case UnsupportedMediaType():
            return problem(415, "unsupported_media_type", str(exc.detail))
        case RequestEntityTooLarge():
            return problem(413, "body_too_large", "the body is larger than 64 KiB")
        case ClientException() if isinstance(exc.__cause__, SerializationException):
            return problem(
                400,
                "malformed_json",
                f"the body is not valid JSON: {exc.detail}",
                errors=[FieldError(field="body", message=str(exc.detail))],
            )
        case NotFoundException():
            return problem(404, "not_found", "no such resource")
        case MethodNotAllowedException():
            return problem(405, "method_not_allowed", "method not allowed", headers=exc.headers)
        case HTTPException() if exc.status_code < 500:
            # ClientException for malformed JSON, 401, 429, ...: the detail is Litestar's message.
            return problem(exc.status_code, _code(exc.status_code), str(exc.detail))
        case HTTPException():
            log.warning("answering %s: %s", exc.status_code, exc.detail)
            return problem(exc.status_code, _code(exc.status_code), str(exc.detail))
        case _:
            log.error("unhandled error answering 500", exc_info=exc)
            return problem(500, "internal_error", "the service failed; it has been logged")


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """Litestar's exception handler for every exception (registered for ``Exception``).

    A body that failed to decode is checked again, field by field (``bodies.every_problem``):
    msgspec names only the first offending field; the answer names them all."""
    if isinstance(exc, ValidationException) and isinstance(exc.__cause__, msgspec.ValidationError):
        found = every_problem(request)
        if found:
            errors = [FieldError(field=f, message=m) for f, m in found]
            return problem(400, "validation_error", _invalid(errors), errors=errors)
    return problem_for(exc)


def _invalid(errors: list[FieldError]) -> str:
    where = ", ".join(dict.fromkeys(e.field for e in errors))
    return f"invalid input: {where}" if where else "invalid input"


def _code(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")


# msgspec names a missing or unknown field in the message, not in the path.
_NAMED_FIELD = re.compile(r"(?:missing required field|unknown field) `([^`]+)`")
# msgspec's own message ends with the path; Litestar decodes the body under the name ``data``.
_BODY_PATH = re.compile(r"\A(?P<message>.*) - at `\$\.data(?P<path>[^`]*)`\Z", re.DOTALL)
# Litestar names a missing parameter only in the detail.
_MISSING_PARAMETER = re.compile(r"Missing required \w+ parameter '([^']+)'")


def field_errors(exc: ValidationException) -> list[FieldError]:
    """The fields a Litestar validation error is about: dotted paths into the body
    (``passkey.public_key``) or parameter names (``reference_id``)."""
    cause = exc.__cause__
    if isinstance(cause, msgspec.ValidationError) and (at := _BODY_PATH.match(str(cause))):
        # The body: msgspec's path is exact, where Litestar's key loses the nesting.
        return [_named(at["path"].lstrip("."), at["message"])]
    found: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            message = str(item.get("message", "")) or str(exc.detail)
            found.append(_named(str(item.get("key") or ""), message))
    if not found and (missing := _MISSING_PARAMETER.search(str(exc.detail))):
        found.append(FieldError(field=missing.group(1), message="is required"))
    return found


def _named(path: str, message: str) -> FieldError:
    if named := _NAMED_FIELD.search(message):
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return FieldError(field=path or "body", message=plain(message))


# --- OpenAPI ------------------------------------------------------------------------------

_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, an empty body, nesting deeper than 32, a key repeated "
    "within an object, wrong types, missing or unknown fields, or a value the order rules refuse. "
    "`errors` names every offending field, in plain words.",
    401: "The webhook's `X-Signature` is missing, forged or too old; on `/api/admin`, the "
    "`Authorization: Bearer` admin token is missing or wrong (or no `ADMIN_TOKEN` is set).",
    404: "No such order (or, for the webhook, no order for that payment).",
    405: "Method not allowed.",
    406: "The `Accept` header excludes every media type this route answers.",
    409: "The request conflicts with what is stored (e.g. a `reference_id` reused with a "
    "different body).",
    413: "The body is larger than 64 KiB.",
    415: "The body is not `application/json`.",
    422: "The payment gateway refused a value of this request (its answer names it); change "
    "the request, a retry of the same one fails the same way.",
    429: "Too many requests from this client address in the current minute "
    "(`RATE_LIMIT_PER_MINUTE`); retry after `Retry-After` seconds.",
    500: "A bug; it is logged.",
    502: "A downstream service (the payment gateway) failed or refused; nothing was stored. "
    "Retry with the same body.",
    503: "Our store or queue is unavailable; retry after `Retry-After` seconds.",
    504: "A downstream service (the payment gateway) timed out; nothing was stored. Retry with "
    "the same body.",
}


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problem answers an endpoint can give (500 always)."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=_DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in sorted({*statuses, 500})
    }
