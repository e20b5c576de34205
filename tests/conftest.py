"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import services


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: ``REDIS_URL`` or an embedded server started for this session."""
    yield from services.redis_url()


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """A Mongo-wire server: ``MONGODB_TEST_URI`` or SecantusDB started once for this session.
    Make clients inside each test (function-scoped async fixtures), on the test's event loop."""
    yield from services.mongo_uri()
