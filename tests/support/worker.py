"""A real SAQ worker in the test's event loop on the in-memory repository and the fakes
(swapped in through container overrides), and the waits worker tests poll with."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from dependency_injector import providers
from saq.queue.redis import RedisQueue

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway, FakeTokenTransferService, FakeWalletService
from adapters.memory import InMemoryOrderRepository
from adapters.saq import close_queue
from application.create_order import CreateOrder
from application.ports import Wallet
from domain import Order, OrderStatus
from entrypoints.container import Container
from entrypoints.settings import Settings
from entrypoints.worker import CronIntervals, GracefulWorker, worker_settings
from tests.support.orders import order_request

#: Sweeps that never fire during a test: only the path under test can advance an order.
NO_SWEEPS = CronIntervals(pending_payments=None, due_retries=None, stuck_orders=None, refunds=None)
FAST_SWEEPS = CronIntervals(pending_payments=1, due_retries=1, stuck_orders=1, refunds=1)


class SlowWallets:
    """The fake wallet service behind a fixed delay, to have a job in flight on purpose."""

    def __init__(self, inner: FakeWalletService, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    async def create_wallet(
        self, *, credential_id: str, public_key: str, idempotency_key: str
    ) -> Wallet:
        await asyncio.sleep(self.delay)
        return await self.inner.create_wallet(
            credential_id=credential_id, public_key=public_key, idempotency_key=idempotency_key
        )


@dataclass
class Downstream:
    """The repository and the fakes the worker's container is given."""

    clock: SystemClock = field(default_factory=SystemClock)
    repository: InMemoryOrderRepository = field(default_factory=InMemoryOrderRepository)
    wallets: FakeWalletService = field(default_factory=FakeWalletService)
    transfers: FakeTokenTransferService = field(default_factory=FakeTokenTransferService)
    wallet_delay: float = 0.0

    def __post_init__(self) -> None:
        self.gateway = FakePaymentGateway(self.clock)

    def configure(self, container: Container) -> None:
        wallets = SlowWallets(self.wallets, self.wallet_delay) if self.wallet_delay else None
        container.repository.override(providers.Object(self.repository))
        container.payment_gateway.override(providers.Object(self.gateway))
        container.wallet_service.override(providers.Object(wallets or self.wallets))
        container.transfer_service.override(providers.Object(self.transfers))
        container.clock.override(providers.Object(self.clock))

    async def paid_order(self, name: str) -> Order:
        """A new order whose buyer has paid (the gateway says so; no job is queued yet)."""
        order = await self.pending_order(name)
        self.gateway.complete(order.payment.id)
        return order

    async def pending_order(self, name: str) -> Order:
        reference = f"{name}-{uuid.uuid4().hex[:10]}"
        request = order_request(reference, amount_token=Decimal("12.5"))
        created = await CreateOrder(self.repository, self.gateway, self.clock).execute(request)
        return created.order

    async def status_of(self, order_id: str) -> OrderStatus:
        order = await self.repository.get(order_id)
        assert order is not None
        return order.status

    async def wait_for(self, order_id: str, status: OrderStatus, *, within: float = 10.0) -> Order:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            order = await self.repository.get(order_id)
            assert order is not None
            if order.status is status:
                return order
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"order still {order.status.value} after {within} s")
            await asyncio.sleep(0.02)


async def eventually(condition: Callable[[], bool], *, within: float = 5.0) -> None:
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true within {within} s")


def long_ago(seconds: float = 30) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


@asynccontextmanager
async def running_worker(
    settings: Settings,
    queue_name: str,
    downstream: Downstream,
    *,
    crons: CronIntervals = NO_SWEEPS,
    grace_seconds: float = 10.0,
) -> AsyncIterator[GracefulWorker]:
    """A real worker as a task of this loop; on exit it is stopped the way SIGTERM stops it."""
    worker = GracefulWorker(
        **worker_settings(
            settings, queue_name=queue_name, configure=downstream.configure, crons=crons
        ),
        grace_seconds=grace_seconds,
    )
    await worker.queue.connect()
    task = asyncio.create_task(worker.start())
    try:
        while "services" not in worker.context:  # startup has built the container
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield worker
    finally:
        worker.event.set()  # exactly what Worker.start's SIGTERM handler does
        await asyncio.wait_for(task, timeout=grace_seconds + 5)
        assert isinstance(worker.queue, RedisQueue)
        await close_queue(worker.queue)
