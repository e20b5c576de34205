"""What the OpenAPI document says beyond what Litestar derives from the handlers' signatures.

Litestar's ``ResponseSpec`` (the problem answers of ``problems.problem_responses``) cannot carry
headers, so every route handler names :class:`ApiOperation` as its ``operation_class``: it adds
the ``Retry-After`` header to the 429 and 503 answers, which send it, and ``X-Request-ID`` (set by
``ObservabilityMiddleware``) to every answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi.spec import OpenAPIHeader, OpenAPIResponse, Operation, Schema
from litestar.openapi.spec.enums import OpenAPIType

RETRY_AFTER = OpenAPIHeader(
    description="Seconds to wait before retrying.",
    required=True,
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1, examples=[5]),
)
REQUEST_ID = OpenAPIHeader(
    description="This request's id: the caller's `X-Request-ID` when it is a sane token, else a "
    "new one. It is on every log line of the request.",
    required=True,
    schema=Schema(type=OpenAPIType.STRING, min_length=1, max_length=128),
)
#: The answers that carry ``Retry-After``: the rate limit's 429 and an outage's 503.
RETRY_AFTER_STATUSES = ("429", "503")


@dataclass
class ApiOperation(Operation):
    """An operation whose answers declare ``X-Request-ID``, and its 429 and 503 ``Retry-After``."""

    def __post_init__(self) -> None:
        for answer in (self.responses or {}).values():
            if isinstance(answer, OpenAPIResponse):
                answer.headers = {**(answer.headers or {}), "X-Request-ID": REQUEST_ID}
        for status in RETRY_AFTER_STATUSES:
            refused = (self.responses or {}).get(status)
            if isinstance(refused, OpenAPIResponse):
                refused.headers = {**(refused.headers or {}), "Retry-After": RETRY_AFTER}
