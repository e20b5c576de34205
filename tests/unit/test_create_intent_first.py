"""CreateOrder with payment intents (docs/adr/0012): a gateway without idempotency keys gets one
create call per order, whatever the concurrency, and a holder that died is taken over.

The gateway here keeps NOWPayments' rules as the adapter sees them: every create that reaches it
makes a new payment, except that it first answers an open payment of the same order again (the
adapter's look before making, ``GET /v1/payment/?order_id=``)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from adapters.fakes import Fault, FaultPlan
from adapters.fakes.clock import FakeClock
from adapters.fakes.faults import raise_after_effect, raise_before_effect
from adapters.memory import InMemoryOrderRepository, InMemoryPaymentIntents
from application.create_order import CreateOrder, IntentTimings, payment_request_for
from application.errors import (
    DownstreamTimeout,
    IdempotencyConflict,
    PaymentCreateInProgress,
    TransientDownstreamError,
)
from application.ports import (
    CreatedPayment,
    GatewayRefund,
    PaymentRequest,
    PaymentSnapshot,
    PaymentState,
)
from domain import order_id_for
from entrypoints.container import resolve, running
from entrypoints.settings import Settings
from tests.support.orders import order_request

#: Short enough that a test waits out a lease in well under a second of real time.
QUICK = IntentTimings(
    lease=timedelta(milliseconds=300),
    margin=timedelta(0),
    first_look=timedelta(milliseconds=2),
    max_look=timedelta(milliseconds=10),
)


class NoKeyGateway:
    """Every create makes a payment, unless the order already has one (the adapter's look)."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.faults = FaultPlan()
        self.payments: dict[str, PaymentRequest] = {}
        self.created: dict[str, CreatedPayment] = {}
        self.create_calls = 0
        self._called = asyncio.Condition()
        #: Set to hold every create inside the gateway until the test lets it go.
        self.gate: asyncio.Event | None = None

    def make(self, request: PaymentRequest) -> CreatedPayment:
        payment_id = str(5_000 + len(self.payments))
        now = self._clock.now()
        created = CreatedPayment(
            id=payment_id,
            token="",
            checkout_url=None,
            status=PaymentState.PENDING.value,
            amount=request.amount,
            currency=request.currency,
            created_at=now,
            expires_at=None,
            pay_address=f"addr-{payment_id}",
        )
        self.payments[payment_id] = request
        self.created[payment_id] = created
        return created

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        created = self.created[payment_id]
        return PaymentSnapshot(
            payment_id, PaymentState.PENDING, created.amount, created.currency, None
        )

    async def refund_payment(
        self, payment_id: str, amount: Decimal, reason: str, *, idempotency_key: str
    ) -> GatewayRefund:
        raise AssertionError("a create never refunds")

    async def get_refund(self, refund_id: str) -> GatewayRefund:
        raise AssertionError("a create never refunds")

    async def called(self, times: int) -> None:
        """Returns once ``times`` creates have reached the gateway."""
        async with self._called:
            await self._called.wait_for(lambda: self.create_calls >= times)

    def of_order(self, order_id: str) -> list[str]:
        return [pid for pid, req in self.payments.items() if req.order_id == order_id]

    async def create_payment(
        self, request: PaymentRequest, *, idempotency_key: str
    ) -> CreatedPayment:
        async with self._called:
            self.create_calls += 1
            self._called.notify_all()
        earlier = self.of_order(request.order_id)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)
        if earlier:
            return self.created[earlier[0]]
        fault = self.faults.next("create_payment")
        raise_before_effect("nowpayments", fault)
        created = self.make(request)
        raise_after_effect("nowpayments", fault)
        return created


class Setup:
    def __init__(self, timings: IntentTimings = QUICK) -> None:
        self.clock = FakeClock()
        self.repository = InMemoryOrderRepository()
        self.intents = InMemoryPaymentIntents()
        self.gateway = NoKeyGateway(self.clock)
        self.create = CreateOrder(self.repository, self.gateway, self.clock, self.intents, timings)


@pytest.fixture
def setup() -> Setup:
    return Setup()


async def test_a_hundred_concurrent_identical_creates_call_the_gateway_once(setup: Setup) -> None:
    setup.gateway.gate = asyncio.Event()
    creates = [asyncio.create_task(setup.create.execute(order_request())) for _ in range(100)]
    await setup.gateway.called(1)
    for _ in range(50):  # every other create reaches its claim (and loses) meanwhile
        await asyncio.sleep(0)
    assert setup.gateway.create_calls == 1
    setup.gateway.gate.set()
    results = await asyncio.gather(*creates)
    assert setup.gateway.create_calls == 1
    assert len(setup.gateway.payments) == 1
    assert len({r.order.payment.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert setup.intents.intents == {}  # let go once the order is stored


async def test_without_intents_the_same_creates_would_each_make_a_payment() -> None:
    """The hazard the intents remove: every create looks before any has made its payment."""
    clock = FakeClock()
    gateway = NoKeyGateway(clock)
    gateway.gate = asyncio.Event()
    create = CreateOrder(InMemoryOrderRepository(), gateway, clock)
    creates = [asyncio.create_task(create.execute(order_request())) for _ in range(10)]
    await gateway.called(10)
    gateway.gate.set()
    results = await asyncio.gather(*creates)
    assert len({r.order.payment.id for r in results}) == 1  # one order stored...
    assert len(gateway.payments) == 10  # ...and nine payments nobody is shown


async def test_a_failed_holder_lets_a_waiting_create_take_over(setup: Setup) -> None:
    setup.gateway.faults.script("create_payment", Fault.TRANSIENT)
    outcomes = await asyncio.gather(
        *(setup.create.execute(order_request()) for _ in range(10)), return_exceptions=True
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], TransientDownstreamError)
    assert len(setup.gateway.payments) == 1
    assert setup.gateway.create_calls == 2
    assert setup.intents.intents == {}


async def test_a_holder_that_died_before_the_call_is_taken_over_after_its_lease(
    setup: Setup,
) -> None:
    order_id = order_id_for("ref-1")
    now = setup.clock.now()
    dead = await setup.intents.claim(
        order_id, "ref-1", "dead-process", now=now, lease_until=now + QUICK.held
    )
    assert dead is not None
    # While its lease runs, a create waits for it, then says so (504: retry), making nothing.
    with pytest.raises(PaymentCreateInProgress):
        await setup.create.execute(order_request())
    assert setup.gateway.create_calls == 0
    setup.clock.advance(QUICK.held.total_seconds())
    result = await setup.create.execute(order_request())
    assert not result.replayed
    assert len(setup.gateway.payments) == 1
    assert setup.intents.claims[-1].attempt == 2


async def test_a_holder_that_died_after_the_call_is_recovered_by_the_lookup(
    setup: Setup,
) -> None:
    order_id = order_id_for("ref-1")
    now = setup.clock.now()
    await setup.intents.claim(order_id, "ref-1", "dead", now=now, lease_until=now + QUICK.held)
    made = setup.gateway.make(payment_request_for(order_request()))  # then the process died
    setup.clock.advance(QUICK.held.total_seconds())
    result = await setup.create.execute(order_request())
    assert result.order.payment.id == made.id
    assert list(setup.gateway.payments) == [made.id]


async def test_a_lost_answer_then_the_clients_retry_make_one_payment(setup: Setup) -> None:
    setup.gateway.faults.script("create_payment", Fault.LOST_ANSWER)
    with pytest.raises(DownstreamTimeout):
        await setup.create.execute(order_request())
    assert setup.intents.intents == {}  # the retry need not wait for a lease
    result = await setup.create.execute(order_request())
    assert len(setup.gateway.payments) == 1
    assert result.order.payment.id == next(iter(setup.gateway.payments))


async def test_a_holder_past_its_lease_is_cut_off_and_lets_go(setup: Setup) -> None:
    setup.gateway.gate = asyncio.Event()  # the gateway never answers
    started = datetime.now()
    with pytest.raises(DownstreamTimeout, match="lease"):
        await setup.create.execute(order_request())
    assert datetime.now() - started >= QUICK.lease
    assert setup.intents.intents == {}


async def test_a_waiting_create_with_another_body_is_a_conflict(setup: Setup) -> None:
    setup.gateway.gate = asyncio.Event()
    first = asyncio.create_task(setup.create.execute(order_request()))
    await setup.gateway.called(1)
    other = asyncio.create_task(setup.create.execute(order_request(price_fiat=Decimal("99"))))
    for _ in range(20):  # it reaches its claim, loses, and waits
        await asyncio.sleep(0)
    setup.gateway.gate.set()
    assert not (await first).replayed
    with pytest.raises(IdempotencyConflict):
        await other
    assert len(setup.gateway.payments) == 1


@pytest.mark.parametrize(("provider", "claims"), [("gateway", 0), ("nowpayments", 1)])
async def test_only_a_create_at_nowpayments_holds_an_intent(provider: str, claims: int) -> None:
    """The generic gateway's create stays as ADR 0001 has it: its key makes it replay."""
    settings = Settings.from_env({"ORDERS_MODE": "dev", "PAYMENT_PROVIDER": provider})
    async with running(settings) as container:
        intents = await resolve(container.payment_intents, object)
        create = await resolve(container.create_order, CreateOrder)
        await create.execute(order_request())
        if claims:
            assert isinstance(intents, InMemoryPaymentIntents)
            assert len(intents.claims) == claims
        else:
            assert intents is None
