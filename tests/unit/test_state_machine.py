"""A stateful property test of the whole pipeline: Hypothesis drives creates, webhooks (duplicate
and unknown), payments settling, downstream failures, crashes between a side effect and its save,
races, worker and sweeper ticks, operator retries and the passing of time, in any order; the
invariants hold after every step (among them: each order's events replay to exactly its history,
sequence 1..n), and once the faults stop every paid order completes.

``OrderPipeline`` is reused with other repositories (``make_repository``), e.g. against Mongo.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.fakes import Fault, SimulatedCrash
from adapters.memory import InMemoryOrderRepository
from application.errors import (
    DownstreamError,
    IdempotencyConflict,
    PaymentNotFound,
)
from application.policy import OrderRetryPolicy, PipelineTimings
from application.ports import OrderRepository, PaymentState
from domain import TRANSITIONS, OrderStatus, Step, event_id, replay_history
from testkit.pipeline import InProcessPipeline
from tests.support.jitter import FixedJitter
from tests.support.orders import order_request

T = TypeVar("T")
REFERENCES = [f"ref-{i}" for i in range(4)]
FAULTS = [
    Fault.TRANSIENT,
    Fault.TIMEOUT,
    Fault.PERMANENT,
    Fault.LOST_ANSWER,
    Fault.CRASH_AFTER_EFFECT,
]
OPERATIONS = {
    "gateway": ["create_payment", "get_payment"],
    "wallet": ["create_wallet"],
    "transfer": ["send", "find_by_key"],
}

#: CI runs at least 200 examples; locally override with STATE_MACHINE_EXAMPLES.
EXAMPLES = int(os.environ.get("STATE_MACHINE_EXAMPLES", "200"))


class OrderPipeline(RuleBasedStateMachine):
    """The use-cases as production wires them, over fakes and a repository."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        repository = self.run(self.make_repository())
        self.world = InProcessPipeline(
            repository=repository,
            retry_policy=OrderRetryPolicy(
                base=timedelta(seconds=2),
                cap=timedelta(seconds=20),
                max_attempts=3,
                jitter=FixedJitter(0.5),
            ),
            timings=PipelineTimings(),
        )
        self.order_ids: dict[str, str] = {}  # reference id -> order id
        self.versions: dict[str, int] = {}

    async def make_repository(self) -> OrderRepository:
        return InMemoryOrderRepository()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            self.faults_stop_and_everything_paid_completes()
        finally:
            self.loop.close()

    # --- rules ---
    @rule(reference=st.sampled_from(REFERENCES), has_wallet=st.booleans())
    def create(self, reference: str, has_wallet: bool) -> None:
        # The wallet choice is part of the request: same reference, other choice → a conflict.
        request = order_request(reference, smart_wallet_address="0xown" if has_wallet else None)
        try:
            result = self.run(self.world.create_order.execute(request))
        except (DownstreamError, SimulatedCrash):
            return  # nothing stored; the frontend will retry
        except IdempotencyConflict:
            assert reference in self.order_ids
            return
        if reference in self.order_ids:
            assert result.replayed
            assert result.order.id == self.order_ids[reference]
        self.order_ids[reference] = result.order.id

    @rule(
        reference=st.sampled_from(REFERENCES),
        amount=st.decimals(min_value=1, max_value=5, places=2),
    )
    def create_with_another_body(self, reference: str, amount: Decimal) -> None:
        if reference not in self.order_ids:
            return
        try:
            self.run(self.world.create_order.execute(order_request(reference, price_fiat=amount)))
        except IdempotencyConflict:
            return
        raise AssertionError("another body under a used reference id must be a conflict")

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), outcome=st.sampled_from(["complete", "fail", "expire"]))
    def buyer_settles_the_payment(self, data: st.DataObject, outcome: str) -> None:
        order = self.run(self.world.repository.get(data.draw(st.sampled_from(self.known()))))
        assert order is not None
        getattr(self.world.gateway, outcome)(order.payment.id)

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), deliveries=st.integers(min_value=1, max_value=3))
    def webhook(self, data: st.DataObject, deliveries: int) -> None:
        order = self.run(self.world.repository.get(data.draw(st.sampled_from(self.known()))))
        assert order is not None
        for _ in range(deliveries):
            self.run(self.world.handle_notification.execute(order.payment.id))

    @rule()
    def webhook_for_an_unknown_payment(self) -> None:
        try:
            self.run(self.world.handle_notification.execute("pay_nobody_knows"))
        except PaymentNotFound:
            return
        raise AssertionError("an unknown payment must be PaymentNotFound")

    @rule(
        service=st.sampled_from(sorted(OPERATIONS)),
        data=st.data(),
        faults=st.lists(st.sampled_from(FAULTS), min_size=1, max_size=3),
    )
    def downstream_fails(self, service: str, data: st.DataObject, faults: list[Fault]) -> None:
        plan = {
            "gateway": self.world.gateway_faults,
            "wallet": self.world.wallet_faults,
            "transfer": self.world.transfer_faults,
        }[service]
        plan.script(data.draw(st.sampled_from(OPERATIONS[service])), *faults)

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data(), runners=st.integers(min_value=2, max_value=4))
    def runners_race(self, data: st.DataObject, runners: int) -> None:
        order_id = data.draw(st.sampled_from(self.known()))

        async def race() -> None:
            results = await asyncio.gather(
                *(self.world.advance.execute(order_id) for _ in range(runners)),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, SimulatedCrash):
                    raise result

        self.run(race())

    @precondition(lambda self: self.order_ids)
    @rule(
        data=st.data(),
        service=st.sampled_from(["wallet", "transfer"]),
        faults=st.lists(st.sampled_from(FAULTS), min_size=1, max_size=3),
    )
    def a_paid_order_meets_step_faults(
        self, data: st.DataObject, service: str, faults: list[Fault]
    ) -> None:
        """The buyer pays, a step's service misbehaves and a runner takes the order at once: the
        other rules rarely line these up, and failed steps, parkings and retries need them."""
        order = self.run(self.world.repository.get(data.draw(st.sampled_from(self.known()))))
        assert order is not None
        self.world.gateway.complete(order.payment.id)
        if service == "wallet":
            self.world.wallet_faults.script("create_wallet", *faults)
        else:
            self.world.transfer_faults.script("send", *faults)
        try:
            self.run(self.world.advance.execute(order.id))
        except SimulatedCrash:
            return

    @precondition(lambda self: self.order_ids)
    @rule(data=st.data())
    def operator_retries_a_parked_order(self, data: st.DataObject) -> None:
        order = self.run(self.world.repository.get(data.draw(st.sampled_from(self.known()))))
        assert order is not None
        if order.parked:
            self.run(self.world.retry_now.execute(order_id=order.id))

    @rule()
    def queue_runs_due_jobs(self) -> None:
        self.run(self.world.run_due_jobs())

    @rule()
    def worker_tick(self) -> None:
        self.run(self.world.worker_tick())

    @rule(seconds=st.sampled_from([1, 5, 30, 121, 600, 3600]))
    def time_passes(self, seconds: int) -> None:
        self.world.clock.advance(seconds)

    # --- invariants ---
    def known(self) -> list[str]:
        return sorted(self.order_ids.values())

    def orders(self) -> list[Any]:
        found = [self.run(self.world.repository.get(i)) for i in self.known()]
        assert all(o is not None for o in found)
        return found

    @invariant()
    def at_most_one_transfer_per_order_and_each_matches_its_order(self) -> None:
        transfers_per_order: dict[str, int] = {}
        for key, stored in self.world.transfers.transfers.items():
            order_id, step = key.rsplit(":", 1)
            assert step == Step.SEND_TOKEN.value
            transfers_per_order[order_id] = transfers_per_order.get(order_id, 0) + 1
            order = self.run(self.world.repository.get(order_id))
            assert order is not None
            assert stored.request.destination == order.smart_wallet_address
            assert stored.request.amount == order.amount_token
        assert all(n == 1 for n in transfers_per_order.values())

    @invariant()
    def every_order_moved_only_along_the_table(self) -> None:
        for order in self.orders():
            assert order.status in TRANSITIONS
            history = [change.status for change in order.history]
            assert history[0] is OrderStatus.PENDING
            assert history[-1] is order.status
            for a, b in itertools.pairwise(history):
                assert a is b or b in TRANSITIONS[a], (order.id, a, b)
            # The version only ever grows.
            assert order.version >= self.versions.get(order.id, 0)
            self.versions[order.id] = order.version

    @invariant()
    def the_events_of_each_order_replay_to_exactly_its_history(self) -> None:
        for order in self.orders():
            assert [e.sequence for e in order.events] == list(range(1, len(order.events) + 1))
            assert all(e.order_id == order.id for e in order.events)
            assert [e.id for e in order.events] == [
                event_id(order.id, e.sequence) for e in order.events
            ]
            assert replay_history(order.events) == order.history, order.id
            assert order.events[-1].data["status"] == order.status.value
            assert order.new_events == []  # what was read is all stored

    @invariant()
    def completed_means_exactly_one_transfer_to_its_wallet_of_its_amount(self) -> None:
        for order in self.orders():
            stored = self.world.transfers.transfers.get(order.idempotency_key(Step.SEND_TOKEN))
            if order.status is OrderStatus.COMPLETED:
                assert stored is not None
                assert stored.request.destination == order.smart_wallet_address
                assert stored.request.amount == order.amount_token
                assert order.transfer is not None
                assert order.transfer.transfer_id == stored.transfer.id
            if order.status in (
                OrderStatus.PENDING,
                OrderStatus.FAILED_PAY,
                OrderStatus.COMPLETED_PAY,
                OrderStatus.CREATING_WALLET,
            ):
                assert stored is None
            if order.status is not OrderStatus.PENDING:
                payment = self.world.gateway.payments[order.payment.id]
                assert (
                    order.status is OrderStatus.FAILED_PAY
                    or payment.status is PaymentState.COMPLETED
                )

    # --- the end ---
    def faults_stop_and_everything_paid_completes(self) -> None:
        self.world.stop_faults()
        for order in self.orders():
            if order.parked:  # an operator looks and retries it
                self.run(self.world.retry_now.execute(order_id=order.id))
        self.run(self.world.settle(max_ticks=400, step_seconds=30))
        for order in self.orders():
            payment = self.world.gateway.payments[order.payment.id]
            if payment.status is PaymentState.COMPLETED and payment.paid_amount is None:
                assert order.status is OrderStatus.COMPLETED, (
                    order.id,
                    order.status,
                    order.history,
                )
            else:
                assert order.status is OrderStatus.FAILED_PAY, (order.id, order.status)
        self.at_most_one_transfer_per_order_and_each_matches_its_order()
        self.the_events_of_each_order_replay_to_exactly_its_history()


OrderPipeline.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOrderPipeline = OrderPipeline.TestCase
