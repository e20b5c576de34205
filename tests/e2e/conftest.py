"""One stack of real processes per module, on real Redis and a Mongo-wire server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, isolated_redis, running_stack

#: Short timings, so that re-checks, retries and the stuck-order sweep happen within seconds.
FAST = {
    "PENDING_RECHECK_SECONDS": "1",
    "STUCK_STEP_LEASE_SECONDS": "3",
    "RETRY_BACKOFF_BASE_SECONDS": "0.2",
    "RETRY_BACKOFF_MAX_SECONDS": "1",
    # Never parked: with 30 % of calls failing, an order may need many attempts.
    "RETRY_MAX_ATTEMPTS": "1000",
    # Few jobs at once, so that a kill always lands on a run with work in flight.
    "WORKER_CONCURRENCY": "4",
    "HTTP_READ_TIMEOUT_SECONDS": "3",
    # 30 % faults open the breaker now and then; a short reset keeps the run in seconds.
    "HTTP_BREAKER_RESET_SECONDS": "2",
    "LOG_LEVEL": "info",
    # The test polls its 50 orders from one address; the per-client limit is not under test.
    "RATE_LIMIT_PER_MINUTE": "1000000",
}


@pytest.fixture(scope="module")
def stack(
    redis_url: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e-logs")
    with running_stack(
        redis_url=isolated_redis(redis_url), mongodb_uri=mongo_uri, logs=logs, extra_env=FAST
    ) as running:
        yield running
