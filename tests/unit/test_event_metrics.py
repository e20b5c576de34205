"""The metrics count stored events by type (adapters/instrumented/repository.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from adapters.fakes import Fault
from adapters.instrumented import InstrumentedOrderRepository
from adapters.memory import InMemoryOrderRepository
from application.errors import StaleOrder
from application.policy import OrderRetryPolicy
from testkit.pipeline import InProcessPipeline
from tests.support.jitter import FixedJitter
from tests.support.orders import order_request


#: (kind, label value) -> (metric, labels)
def _key(kind: str, value: str | None) -> tuple[str, dict[str, str]]:
    if kind == "parkings":
        return "orders_parkings_total", {}
    metric, label = {
        "events": ("orders_events_total", "type"),
        "entered": ("orders_status_entered_total", "status"),
        "retries": ("orders_step_retries_total", "step"),
    }[kind]
    return metric, {label: value or ""}


class Counters:
    """The watched counters' growth since this object was made (the registry is global)."""

    def __init__(self, watched: list[tuple[str, str | None]]) -> None:
        self.before = {w: self._read(*w) for w in watched}

    @staticmethod
    def _read(kind: str, value: str | None) -> float:
        metric, labels = _key(kind, value)
        return REGISTRY.get_sample_value(metric, labels) or 0.0

    def grew(self) -> dict[tuple[str, str | None], float]:
        return {w: self._read(*w) - before for w, before in self.before.items()}


def world() -> InProcessPipeline:
    return InProcessPipeline(
        repository=InstrumentedOrderRepository(InMemoryOrderRepository()),
        retry_policy=OrderRetryPolicy(
            base=timedelta(seconds=4),
            cap=timedelta(minutes=1),
            max_attempts=2,
            jitter=FixedJitter(0.5),
        ),
    )


WATCHED = [
    ("events", "order.created"),
    ("events", "order.paid"),
    ("events", "order.step_failed"),
    ("events", "order.parked"),
    ("events", "order.retried"),
    ("events", "order.completed"),
    ("entered", "pending"),
    ("entered", "creating_wallet"),
    ("entered", "create_wallet_fail"),
    ("entered", "completed"),
    ("retries", "create_wallet"),
    ("parkings", None),
]


async def test_each_stored_event_is_counted_by_type_and_status_moves_from_them() -> None:
    counters = Counters(WATCHED)
    w = world()
    order = (await w.create_order.execute(order_request())).order
    w.gateway.complete(order.payment.id)
    w.wallet_faults.script("create_wallet", Fault.TRANSIENT, Fault.TRANSIENT)
    await w.advance.execute(order.id)  # paid, creating_wallet, fails (retry 1 scheduled)
    w.clock.advance(3600)
    await w.advance.execute(order.id)  # retries, fails again: the budget of 2 is spent, parked
    await w.retry_now.execute(order_id=order.id)  # the operator
    await w.advance.execute(order.id)  # retries, completes

    assert counters.grew() == {
        ("events", "order.created"): 1,
        ("events", "order.paid"): 1,
        ("events", "order.step_failed"): 2,
        ("events", "order.parked"): 1,
        ("events", "order.retried"): 1,
        ("events", "order.completed"): 1,
        ("entered", "pending"): 1,
        ("entered", "creating_wallet"): 3,
        ("entered", "create_wallet_fail"): 2,
        ("entered", "completed"): 1,
        ("retries", "create_wallet"): 2,
        ("parkings", None): 1,
    }


async def test_a_save_that_loses_its_compare_and_set_counts_nothing() -> None:
    counters = Counters([("events", "order.paid")])
    w = world()
    order = (await w.create_order.execute(order_request())).order
    rival = await w.repository.get(order.id)
    assert rival is not None
    await w.repository.save(rival, expected_version=0)
    order.mark_paid(w.clock.now())

    with pytest.raises(StaleOrder):
        await w.repository.save(order, expected_version=0)

    assert counters.grew() == {("events", "order.paid"): 0}
