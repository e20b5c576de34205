"""The relay's stores (ADR 0016) behave alike in memory and on Mongo: the outbox cue written by
the save that stores events, its compare-and-set settle, and delivery states with
compare-and-set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.memory import InMemoryDeliveryLog, InMemoryOrderRepository
from adapters.mongo import MongoDeliveryLog, MongoEventOutbox, MongoOrderRepository
from application.ports import Delivery, DeliveryLog, EventOutbox, OrderRepository, StaleDelivery
from domain import Order, Payment
from tests.contract.conftest import MONGO, mongo_uri
from tests.contract.mongo import fresh_database
from tests.support.orders import order_request

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Stores:
    repository: OrderRepository
    outbox: EventOutbox
    log: DeliveryLog


@pytest.fixture(params=["memory", pytest.param("pymongo", marks=MONGO)])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    if request.param == "memory":
        memory = InMemoryOrderRepository()
        yield Stores(memory, memory, InMemoryDeliveryLog())
        return
    async for database in fresh_database(mongo_uri(request), request.param, prefix="relay"):
        yield Stores(
            MongoOrderRepository(database), MongoEventOutbox(database), MongoDeliveryLog(database)
        )


def placed(at: datetime = T0) -> Order:
    payment = Payment("pay-1", "tok", None, "pending", Decimal(13), "EUR")
    return Order.place(order_request(), payment, at=at)


async def test_a_save_with_events_makes_the_order_due_and_settle_is_compare_and_set(
    stores: Stores,
) -> None:
    order = placed()
    await stores.repository.add(order)
    [due] = await stores.outbox.due(T0, 10)
    assert due.id == order.id
    assert await stores.outbox.due(T0 - timedelta(seconds=1), 10) == []
    assert await stores.outbox.settle(order.id, due.version, None) is True
    assert await stores.outbox.due(T0 + timedelta(days=1), 10) == []

    # A save without events carries the cue it read; with events, it is due again.
    stored = await stores.repository.get(order.id)
    assert stored is not None
    stored.payment_still_pending(T0 + timedelta(seconds=5))
    await stores.repository.save(stored, expected_version=stored.version)
    assert await stores.outbox.due(T0 + timedelta(days=1), 10) == []
    stored.mark_paid(T0 + timedelta(seconds=6))
    await stores.repository.save(stored, expected_version=stored.version)
    [due] = await stores.outbox.due(T0 + timedelta(seconds=6), 10)
    assert len(due.events) == 2

    # A settle at a version the order has left changes nothing: it stays due.
    assert await stores.outbox.settle(order.id, due.version - 1, None) is False
    assert len(await stores.outbox.due(T0 + timedelta(seconds=6), 10)) == 1


async def test_delivery_states_are_written_with_compare_and_set(stores: Stores) -> None:
    assert await stores.log.get("hook", "o-1") is None
    first = await stores.log.put(
        Delivery("hook", "o-1", delivered=1, due_at=T0), expected_version=0
    )
    assert first.version == 1
    with pytest.raises(StaleDelivery):
        await stores.log.put(Delivery("hook", "o-1", delivered=9), expected_version=0)
    second = await stores.log.put(
        replace(first, delivered=2, dead=(2,), gone=(1,), due_at=None, last_error="HTTP 500"),
        expected_version=1,
    )
    with pytest.raises(StaleDelivery):
        await stores.log.put(replace(first, delivered=3), expected_version=1)
    assert await stores.log.get("hook", "o-1") == second
    assert (second.delivered, second.dead, second.gone, second.version) == (2, (2,), (1,), 2)
    await stores.log.put(Delivery("other", "o-1", due_at=T0), expected_version=0)
    await stores.log.put(Delivery("hook", "o-2", due_at=T0 + timedelta(1)), expected_version=0)
    assert [d.subscriber for d in await stores.log.of_order("o-1")] == ["hook", "other"]
    found = await stores.log.of_orders(["o-1", "o-2", "o-3"])
    assert sorted((d.subscriber, d.order_id, d.version) for d in found) == [
        ("hook", "o-1", 2),
        ("hook", "o-2", 1),
        ("other", "o-1", 1),
    ]
    assert await stores.log.of_orders(["o-3"]) == await stores.log.of_orders([]) == []
    assert [(d.subscriber, d.order_id) for d in await stores.log.due(T0, 10)] == [("other", "o-1")]
