"""One stack of real processes per module, on real Redis and a Mongo-wire server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import FAST, Stack, isolated_redis, running_stack


@pytest.fixture(scope="module")
def stack(
    redis_url: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-logs")
    with running_stack(
        redis_url=isolated_redis(redis_url), mongodb_uri=mongo_uri, logs=logs, extra_env=FAST
    ) as running:
        yield running
