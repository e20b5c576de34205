"""``CheckReadiness`` and ``MeasureOpenOrders`` on in-memory adapters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.fakes import FakeClock, FakePaymentGateway, FaultPlan, RecordingScheduler
from adapters.memory import InMemoryOrderRepository
from adapters.memory.queries import InMemoryOrderQueries
from application.check_readiness import CheckReadiness
from application.create_order import CreateOrder
from application.errors import InfrastructureUnavailable
from application.order_stats import MeasureOpenOrders
from application.ports.durability import Durability
from application.ports.order_queries import OPEN_STATUSES
from domain import OrderStatus
from tests.support.orders import order_request


class Probe:
    def __init__(self, durability: Durability) -> None:
        self.durability = durability

    def check(self) -> Durability:
        return self.durability


REPLICA_SET_DOWN = Durability("w=majority, j=true", "replica set rs0", 3, 1, False)
REPLICA_SET_UP = Durability("w=majority, j=true", "replica set rs0", 3, 2, True)


async def test_ready_when_the_store_and_the_queue_answer() -> None:
    readiness = CheckReadiness(
        InMemoryOrderRepository(), RecordingScheduler(FakeClock()), Probe(REPLICA_SET_UP)
    )

    found = await readiness.execute()

    assert found.checks == {"repository": "ok", "queue": "ok"}
    assert found.durability == REPLICA_SET_UP


async def test_not_ready_names_every_component_that_fails() -> None:
    scheduler = RecordingScheduler(FakeClock())
    scheduler.unavailable = True
    readiness = CheckReadiness(InMemoryOrderRepository(), scheduler, Probe(REPLICA_SET_DOWN))

    with pytest.raises(InfrastructureUnavailable) as raised:
        await readiness.execute()

    assert raised.value.component == "repository_and_queue"
    assert "w=majority, j=true unavailable: 1 of 3 members" in str(raised.value)
    assert "queue: " in str(raised.value)


async def test_open_orders_are_measured_by_age_and_parked_count() -> None:
    clock = FakeClock()
    repository = InMemoryOrderRepository()
    await CreateOrder(repository, FakePaymentGateway(clock, FaultPlan()), clock).execute(
        order_request()
    )
    clock.advance(90)

    figures = await MeasureOpenOrders(InMemoryOrderQueries(repository), clock).execute()

    assert figures.parked == 0
    assert set(figures.oldest) == set(OPEN_STATUSES)
    assert figures.oldest[OrderStatus.PENDING] == timedelta(seconds=90)
    assert figures.oldest[OrderStatus.CREATING_WALLET] == timedelta(0)
