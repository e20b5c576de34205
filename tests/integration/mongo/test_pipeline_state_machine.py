"""The pipeline's stateful property test (tests/unit/test_state_machine.py) once more, on the
Mongo repository: same rules and invariants, few examples (every step is real I/O)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from adapters.mongo import MongoOrderRepository, close_client, ensure_schema, get_database
from adapters.mongo.client import MongoClient
from application.ports import OrderRepository
from tests.contract.mongo import short_lived_client
from tests.unit.test_state_machine import OrderPipeline

EXAMPLES = int(os.environ.get("MONGO_STATE_MACHINE_EXAMPLES", "10"))


def test_the_pipeline_state_machine_holds_on_mongo(mongo_uri: str) -> None:
    databases: list[str] = []

    class MongoOrderPipeline(OrderPipeline):
        """Each example gets its own database, made on the machine's own event loop."""

        client: MongoClient

        async def make_repository(self) -> OrderRepository:
            self.client = short_lived_client(mongo_uri, "pymongo")
            database = get_database(self.client, f"sm_{len(databases)}_{os.getpid()}")
            databases.append(database.name)
            await self.client.drop_database(database.name)  # left over from an earlier run
            await ensure_schema(database)
            return MongoOrderRepository(database)

        async def _release(self) -> None:
            try:
                await self.client.drop_database(databases[-1])
            finally:
                await close_client(self.client)

        def faults_stop_and_everything_paid_completes(self) -> None:
            # The base teardown calls this, then closes the loop: release the client between.
            try:
                super().faults_stop_and_everything_paid_completes()
            finally:
                self.run(self._release())

    run_state_machine_as_test(
        MongoOrderPipeline,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=20,
            deadline=None,
            database=None,  # examples found on the in-memory run are replayed there, not here
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    assert len(databases) >= 1
