"""The rate limiter's configuration: the ``RateLimit-*`` headers go on the 429 only."""

from __future__ import annotations

import pytest
from litestar.middleware.rate_limit import RateLimitConfig

from entrypoints.api.rate_limit import ProblemRateLimitMiddleware, rate_limit_config


async def _app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("never called")


def test_the_service_config_sets_no_headers_on_allowed_answers() -> None:
    config = rate_limit_config(10)

    assert config.set_rate_limit_headers is False
    assert config.rate_limit == ("minute", 10)
    ProblemRateLimitMiddleware(_app, config)  # accepted


def test_asking_for_headers_on_every_answer_is_refused_not_ignored() -> None:
    config = RateLimitConfig(
        rate_limit=("minute", 10), middleware_class=ProblemRateLimitMiddleware
    )  # Litestar's default: set_rate_limit_headers=True

    with pytest.raises(ValueError, match="set_rate_limit_headers"):
        ProblemRateLimitMiddleware(_app, config)
