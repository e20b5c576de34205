"""The merchant webhook over real HTTP: the relay and ``EventWebhookSubscriber`` against the
sandbox's merchant receiver, which verifies every signature with its own code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import httpx
import msgspec
import pytest

from adapters.clock import SystemClock
from adapters.http import EventWebhookSubscriber
from adapters.http.webhook_signature import signature_header
from adapters.memory import InMemoryDeliveryLog, InMemoryOrderRepository
from application.policy import OrderRetryPolicy
from application.relay_events import RelayEvents, RelayPolicy
from domain import Order, Payment, TransferResult, order_after
from entrypoints.api.schemas import OrderView, event_webhook_body
from sandbox import SandboxKnobs
from tests.integration.http.harness import MERCHANT_EVENTS_SECRET, SandboxControl
from tests.support.orders import order_request

FAST = RelayPolicy(
    backoff=OrderRetryPolicy(
        base=timedelta(milliseconds=5), cap=timedelta(milliseconds=20), max_attempts=1
    ),
    give_up_after=timedelta(minutes=5),
    lease=timedelta(seconds=5),
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=2.0) as made:
        yield made


def subscriber(client: httpx.AsyncClient, url: str, secret: str) -> EventWebhookSubscriber:
    return EventWebhookSubscriber(
        client,
        f"{url}/merchant/order-events",
        body=event_webhook_body,
        signature=lambda stamp, body: signature_header((secret,), stamp, body),
        clock=SystemClock(),
    )


async def completed_orders(repository: InMemoryOrderRepository, n: int) -> list[Order]:
    clock = SystemClock()
    orders = []
    for i in range(n):
        payment = Payment(f"pay-{i}", "tok", None, "pending", Decimal(13), "EUR")
        order = Order.place(order_request(f"ref-{i}"), payment, at=clock.now())
        await repository.add(order)
        order.record_payment_status("completed")
        order.mark_paid(clock.now())
        order.start_step(order.next_step(), clock.now())
        order.wallet_created(f"0xwallet{i}", clock.now())
        order.tokens_sent(TransferResult(f"tr-{i}", "confirmed", "sig", Decimal(12)), clock.now())
        await repository.save(order, expected_version=order.version)
        orders.append(order)
    return orders


async def caught_up(deliveries: InMemoryDeliveryLog, orders: list[Order]) -> bool:
    """Every order's state has all its events delivered and nothing left due."""
    for order in orders:
        states = await deliveries.of_order(order.id)
        if not states or any(
            s.delivered < len(order.events) or s.due_at is not None for s in states
        ):
            return False
    return True


async def merchant_events(sandbox: SandboxControl) -> dict[str, object]:
    answer = await sandbox.client.get("/sandbox/merchant/events")
    answer.raise_for_status()
    seen: dict[str, object] = answer.json()
    return seen


async def test_every_event_arrives_signed_in_sequence_despite_receiver_faults(
    sandbox: SandboxControl, client: httpx.AsyncClient
) -> None:
    await sandbox.configure(SandboxKnobs(merchant_fail_rate=0.2, merchant_fail_after_rate=0.1))
    repository = InMemoryOrderRepository()
    orders = await completed_orders(repository, 5)
    hook = subscriber(client, sandbox.url, MERCHANT_EVENTS_SECRET)
    deliveries = InMemoryDeliveryLog()
    relay = RelayEvents(
        repository,
        repository,
        deliveries,
        [hook],
        SystemClock(),
        policy=FAST,
        concurrency=4,
    )
    expected = {o.id: list(range(1, len(o.events) + 1)) for o in orders}
    deadline = time.monotonic() + 60  # a bound against hanging on a loaded machine
    seen: dict[str, object] = {}
    while time.monotonic() < deadline:
        await relay.execute()
        seen = await merchant_events(sandbox)
        # Done is the relay caught up (every event acknowledged with a 2xx, nothing due), not
        # merely every first arrival recorded: a fault after the record of an order's last event
        # is only redelivered (and counted a duplicate) on a later pass.
        if seen["orders"] == expected and await caught_up(deliveries, orders):
            break
        await asyncio.sleep(0.01)  # the backoff's next retry; the sandbox shares this process
    assert await caught_up(deliveries, orders)
    # Each order's sequences, first arrivals in order.
    assert seen["orders"] == expected, (seen["orders"], seen["counters"])
    counters = seen["counters"]
    assert isinstance(counters, dict)
    assert counters.get("gaps", 0) == 0
    assert counters.get("bad_signature", 0) == 0
    assert counters["faulted"] > 0  # the knob bit: some deliveries were tried again
    assert counters["faulted_after_record"] > 0  # and some arrived twice, deduped by id
    assert counters["duplicates"] >= counters["faulted_after_record"]
    events = seen["events"]
    assert isinstance(events, dict)
    for order in orders:
        for event in order.events:
            # data.order was the order as it stood right after the event.
            assert events[event.id]["status"] == order_after(order, event.sequence).status.value
            assert events[event.id]["type"] == event.type.value


async def test_a_wrong_secret_is_refused_by_the_receiver_and_retried_not_lost(
    sandbox: SandboxControl, client: httpx.AsyncClient
) -> None:
    repository = InMemoryOrderRepository()
    [order] = await completed_orders(repository, 1)
    log = InMemoryDeliveryLog()
    hook = subscriber(client, sandbox.url, "not-the-merchant-secret")
    relay = RelayEvents(
        repository, repository, log, [hook], SystemClock(), policy=FAST, concurrency=4
    )
    await relay.execute()
    [state] = await log.of_order(order.id)
    assert state.delivered == 0
    assert state.last_error == "HTTP 401"
    assert state.due_at is not None
    seen = await merchant_events(sandbox)
    assert seen["counters"] == {"received": 1, "bad_signature": 1}


async def test_the_body_is_the_contract_s(client: httpx.AsyncClient) -> None:
    repository = InMemoryOrderRepository()
    [order] = await completed_orders(repository, 1)
    event = order.events[1]
    body = msgspec.json.decode(event_webhook_body(event, order_after(order, 2)))
    assert set(body) == {"id", "type", "created_at", "order_id", "sequence", "data"}
    assert (body["id"], body["type"], body["sequence"]) == (event.id, "order.paid", 2)
    assert body["data"]["order"] == msgspec.to_builtins(OrderView.of(order_after(order, 2)))
    assert body["data"]["order"]["status"] == "completed_pay"
