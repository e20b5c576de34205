"""Real services for the integration tests: Redis and a Mongo-wire server, the given ones or the
dev stack's embedded servers (``devstack.servers``).

``REQUIRE_SERVICES=1`` (set by .ci/run) turns "service unavailable" from a skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Generator

import pytest

from devstack import StackError, embedded_mongo, embedded_redis


def unavailable(what: str) -> None:
    """Skip the test, or fail it when CI requires every service."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is unavailable and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{what} is unavailable")


def redis_url() -> Generator[str, None, None]:
    """``REDIS_URL`` when set (CI: the machine's Redis), else an embedded valkey server."""
    with contextlib.ExitStack() as stack:
        try:
            url, _ = stack.enter_context(embedded_redis(os.environ.get("REDIS_URL")))
        except StackError as exc:
            unavailable(f"Redis ({exc})")
            return
        yield url


def mongo_uri() -> Generator[str, None, None]:
    """``MONGODB_TEST_URI`` when set (a real mongod), else a SecantusDB server for this session.

    ``retryWrites=false`` on the embedded server because it slows down sharply past ~10,000
    retryable writes. Tests isolate by database name, not by server.
    """
    with contextlib.ExitStack() as stack:
        try:
            uri, _ = stack.enter_context(embedded_mongo(os.environ.get("MONGODB_TEST_URI")))
        except StackError as exc:
            unavailable(f"Mongo ({exc})")
            return
        yield uri
