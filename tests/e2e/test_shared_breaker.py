"""Two worker processes, one circuit (docs/adr/0017): with the wallet service down,
the workers' calls to it stop after the threshold counted across both, not after the threshold
of each, and both then fail fast. Real processes (``orders-service sandbox|api|worker`` and a
second worker) on real Redis and a Mongo-wire server.

Every wait is a poll with a deadline: a bound against hanging, never a measure of speed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devstack import Child
from tests.e2e.stack import (
    FAST,
    Stack,
    isolated_redis,
    log_of,
    orders_service,
    process,
    running_stack,
)
from tests.e2e.test_end_to_end import (
    configure_sandbox,
    create_orders,
    eventually,
    sandbox_stats,
    settle,
)
from tests.support.buyers import auth
from tests.support.orders import e2e_order as order_body

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.mongo]

THRESHOLD = 5
ENV = {
    **FAST,
    "HTTP_BREAKER_SCOPE": "shared",
    "HTTP_BREAKER_THRESHOLD": str(THRESHOLD),
    # Longer than the test: no trial call while it looks.
    "HTTP_BREAKER_RESET_SECONDS": "120",
    # One job at a time per worker: at most one call per worker is in flight when the circuit
    # opens, so the count is exact up to that one.
    "WORKER_CONCURRENCY": "1",
}
FAILED_CALL = "wallet_service POST /v1/wallets -> 503"
REFUSED_CALL = "wallet_service POST /v1/wallets -> circuit_open"


@pytest.fixture(scope="module")
def stack_and_second_worker(
    redis_url: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, Child]]:
    logs = tmp_path_factory.mktemp("e2e-breaker-logs")
    with running_stack(
        redis_url=isolated_redis(redis_url), mongodb_uri=mongo_uri, logs=logs, extra_env=ENV
    ) as stack:
        # Started once the API has ensured the schema (SecantusDB and concurrent creates).
        second = process(
            "worker-2",
            [orders_service(), "worker", "--grace-seconds", "5"],
            stack.env,
            Path(logs) / "worker-2.log",
        )
        second.start()
        try:
            yield stack, second
        finally:
            second.stop()


def _count(child: Child, text: str) -> int:
    log = log_of(child)
    return log.read_text(errors="replace").count(text) if log.exists() else 0


async def test_two_workers_see_one_circuit(stack_and_second_worker: tuple[Stack, Child]) -> None:
    stack, second = stack_and_second_worker
    workers = (stack.worker, second)
    run = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(timeout=10, headers=auth()) as client:
        await configure_sandbox(
            client,
            stack,
            {"webhook_backoff_seconds": 0.2, "faults": {"create_wallet": {"error_rate": 1.0}}},
        )
        orders = await create_orders(
            client, stack, [order_body(f"brk-{run}-{n:02d}") for n in range(12)]
        )
        for order in orders:
            await settle(client, stack, order["payment"]["id"], "complete")

        async def both_refuse() -> bool:
            return all(_count(w, REFUSED_CALL) > 0 for w in workers)

        await eventually(both_refuse, seconds=60, what="both workers fail fast", stack=stack)
        calls = (await sandbox_stats(client, stack))["calls"]["create_wallet"]

    failed = [_count(w, FAILED_CALL) for w in workers]
    # Every call that reached the wallet service failed, and was logged by the worker making it.
    assert sum(failed) == calls, (failed, calls)
    # The threshold across both workers, plus at most the other worker's call in flight when
    # the circuit opened; with a breaker per process it would take THRESHOLD calls from each.
    assert THRESHOLD <= calls <= THRESHOLD + 1, (failed, calls, stack.logs())
    assert all(_count(w, REFUSED_CALL) > 0 for w in workers)
