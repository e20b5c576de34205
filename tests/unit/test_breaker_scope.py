"""``HTTP_BREAKER_SCOPE`` picks the breakers the adapters share (docs/adr/0017)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest
from purgatory import AsyncCircuitBreakerFactory

from adapters.http import SharedBreakers
from entrypoints.container import _breakers
from entrypoints.settings import Settings

REDIS = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("scope", "redis_url", "kind"),
    [
        ("shared", REDIS, SharedBreakers),
        ("local", REDIS, AsyncCircuitBreakerFactory),
        # Without Redis (dev mode only) there is nothing to share through.
        ("shared", None, AsyncCircuitBreakerFactory),
    ],
)
async def test_the_scope_selects_the_breakers(
    scope: str, redis_url: str | None, kind: type[object]
) -> None:
    settings = Settings(mode="dev", redis_url=redis_url, http_breaker_scope=scope)
    breakers = _breakers(settings)
    assert isinstance(breakers, AsyncGenerator)
    made = await anext(breakers)  # no I/O: a Redis client connects on its first command
    try:
        assert isinstance(made, kind)
    finally:
        await breakers.aclose()


def test_shared_is_the_default() -> None:
    assert Settings.from_env({}).http_breaker_scope == "shared"
    assert Settings.from_env({"HTTP_BREAKER_SCOPE": "LOCAL"}).http_breaker_scope == "local"
