"""What the OpenAPI document says beyond what Litestar derives from the handlers' signatures.

Litestar's ``ResponseSpec`` (the problem answers of ``problems.problem_responses``) cannot carry
headers, so every route handler names :class:`ApiOperation` as its ``operation_class``: it adds
the ``Retry-After`` header to the 429 and 503 answers, which send it.
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
#: The answers that carry ``Retry-After``: the rate limit's 429 and an outage's 503.
RETRY_AFTER_STATUSES = ("429", "503")


@dataclass
class ApiOperation(Operation):
    """An operation whose 429 and 503 answers declare ``Retry-After``."""

    def __post_init__(self) -> None:
        for status in RETRY_AFTER_STATUSES:
            answer = (self.responses or {}).get(status)
            if isinstance(answer, OpenAPIResponse):
                answer.headers = {**(answer.headers or {}), "Retry-After": RETRY_AFTER}
