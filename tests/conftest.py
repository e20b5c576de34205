"""Fixtures shared by every test layer, and the one hook that marks tests by what they need."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services

_TESTS = Path(__file__).parent

#: Markers a whole folder gets (its path under tests/): what its tests start, whatever fixtures
#: they use.
_FOLDER_MARKERS = {
    ("e2e",): ("e2e",),  # real processes of the service
    ("browser",): ("browser", "e2e"),  # those processes, driven from a real headless Chromium
    ("integration", "mongo"): ("mongo",),  # the session's server, or a SecantusDB of their own
}

#: Markers a test gets for a service fixture it uses, directly or through other fixtures.
_FIXTURE_MARKERS = {"redis_url": "redis", "mongo_uri": "mongo"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder and by the services its fixtures ask for, so ``-m`` selects
    by real need. A fixture that asks for a service at run time (``getfixturevalue``, as the
    contract suites' Mongo parameters do) marks its own parameters."""
    for item in items:
        parts = item.path.relative_to(_TESTS).parts
        names = [
            m
            for folder, marks in _FOLDER_MARKERS.items()
            if parts[: len(folder)] == folder
            for m in marks
        ]
        used = getattr(item, "fixturenames", ())
        names += [marker for fixture, marker in _FIXTURE_MARKERS.items() if fixture in used]
        for name in names:
            if item.get_closest_marker(name) is None:
                item.add_marker(name)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: ``REDIS_URL`` or an embedded server started for this session."""
    yield from services.redis_url()


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """A Mongo-wire server: ``MONGODB_TEST_URI`` or SecantusDB started once for this session.
    Make clients inside each test (function-scoped async fixtures), on the test's event loop."""
    yield from services.mongo_uri()
