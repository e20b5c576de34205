"""The worker's jobs: each takes its use-case from the context and calls it, nothing more."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from redis.exceptions import RedisError
from saq.job import Job
from saq.types import Context

from adapters.instrumented.metrics import EVENT_DELIVERIES, child
from adapters.saq import ADVANCE_ORDER_JOB, PAYLOAD_VERSION, SaqJobScheduler, WorkerQueue
from application.advance_order import AdvanceOrder
from application.errors import OrderNotFound
from application.relay_events import RelayEvents
from application.sweepers import (
    DriveRefunds,
    PollPendingPayments,
    ResumeStuckOrders,
    RetryFailedOrders,
)
from entrypoints.container import Container

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """What ``startup`` puts in the worker's context: the container and the use-cases."""

    container: Container
    scheduler: SaqJobScheduler
    advance_order: AdvanceOrder
    retry_failed_orders: RetryFailedOrders
    poll_pending_payments: PollPendingPayments
    resume_stuck_orders: ResumeStuckOrders
    relay_events: RelayEvents
    drive_refunds: DriveRefunds
    #: Closes the container on shutdown.
    stack: AsyncExitStack


class WorkerContext(Context, total=False):
    """SAQ's context plus ours."""

    services: Services


class UnsupportedPayload(Exception):
    """A job written by a newer version of the service than this worker."""


async def advance_order(ctx: WorkerContext, *, order_id: str, v: int = 1) -> str:
    """Advance one order as far as it can go now; returns the status it was left in."""
    if v > PAYLOAD_VERSION:
        raise UnsupportedPayload(
            f"advance_order payload v{v}; this worker reads v{PAYLOAD_VERSION}"
        )
    async with _heartbeat(ctx.get("job")):
        try:
            outcome = await ctx["services"].advance_order.execute(order_id)
        except OrderNotFound:
            # Nothing to retry: a job for an order this store does not hold.
            log.warning("advance_order: no order %s", order_id)
            return "not_found"
    return outcome.order.status.value


async def retry_due_orders(ctx: WorkerContext) -> int:
    """Cron: schedule every failed step whose backoff has run out."""
    return await ctx["services"].retry_failed_orders.execute()


async def recheck_pending_payments(ctx: WorkerContext) -> int:
    """Cron: ask the gateway again about every order still pending (webhooks get lost)."""
    return await ctx["services"].poll_pending_payments.execute()


async def resume_stuck_orders(ctx: WorkerContext) -> int:
    """Cron: resume orders a dead worker left mid-step, past the lease."""
    return await ctx["services"].resume_stuck_orders.execute()


async def relay_events(ctx: WorkerContext) -> int:
    """Cron: deliver stored events to every subscriber, in sequence per order (docs/events.md);
    returns how many deliveries were acknowledged."""
    async with _heartbeat(ctx.get("job")):
        report = await ctx["services"].relay_events.execute()
    for (subscriber, outcome), n in report.outcomes.items():
        child(EVENT_DELIVERIES, subscriber, outcome).inc(n)
    return report.total("delivered")


async def drive_due_refunds(ctx: WorkerContext) -> int:
    """Cron: call, retry or look up every open refund that is due (and resume crashed ones)."""
    return await ctx["services"].drive_refunds.execute()


async def after_process(ctx: WorkerContext) -> None:
    """Runs after SAQ has finished (or requeued) a job: the order's key is free again, so a run
    asked for while the job was active (its own re-check or retry, a webhook) is enqueued now."""
    job = ctx.get("job")
    services = ctx.get("services")
    if job is not None and services is not None and job.function == ADVANCE_ORDER_JOB:
        order_id = (job.kwargs or {}).get("order_id")
        if isinstance(order_id, str):
            await services.scheduler.after_advance(order_id)


@asynccontextmanager
async def _heartbeat(job: Job | None) -> AsyncIterator[None]:
    """Touch the job while it runs, so SAQ's sweep tells a live long run from a dead worker."""
    if job is None or not job.heartbeat:
        yield
        return
    every = max(job.heartbeat / 3, 0.5)
    # A Redis that is down is logged once by the queue (adapters/saq/queue.py), not per beat.
    health = job.queue.health if isinstance(job.queue, WorkerQueue) else None

    async def beat() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await job.update()
            except (RedisError, OSError) as exc:  # a missed beat must not fail the job
                if health is None:
                    log.warning("heartbeat of %s failed: %s", job.key, exc)
                else:
                    health.failed(f"heartbeat of {job.key}", exc)
            else:
                if health is not None:
                    health.ok()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
