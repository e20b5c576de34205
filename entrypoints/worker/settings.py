"""The SAQ worker's settings, built from the same container as the API.

``saq entrypoints.worker.settings.settings`` also works: it reads the environment.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from dependency_injector import providers
from saq.job import CronJob
from saq.types import PartialTimersDict, SettingsDict

from adapters.saq import ADVANCE_ORDER_JOB, DEFAULT_QUEUE_NAME, SaqJobScheduler, make_queue
from application.advance_order import AdvanceOrder
from application.relay_events import RelayEvents
from application.sweepers import (
    DriveRefunds,
    PollPendingPayments,
    ResumeStuckOrders,
    RetryFailedOrders,
)
from entrypoints.api.schemas import event_webhook_body
from entrypoints.container import Container, resolve, running
from entrypoints.log_config import bind_job_context
from entrypoints.settings import Settings, SettingsError
from entrypoints.worker import tasks
from entrypoints.worker.tasks import Services, WorkerContext

#: How long a blocked dequeue waits before it looks again; also bounds how long an idle worker
#: takes to notice it is stopping.
DEQUEUE_TIMEOUT_SECONDS = 1.0
#: SAQ's own upkeep: move due scheduled jobs every second, sweep dead jobs every 5 s (the
#: default minute would leave a killed worker's job blocking its order's key for that long). The
#: sweep is ``WorkerQueue``'s, which spares a job just dequeued (docs/adr/0010-saq-operations.md).
TIMERS: PartialTimersDict = {"schedule": 1, "sweep": 5, "abort": 1, "worker_info": 10}


def cron_every(seconds: float) -> str:
    """A cron (with croniter's sixth, seconds field) firing about every ``seconds``.

    Cron steps restart at each minute (or hour): 30 fires at :00 and :30, 45 at :00 and :45.
    Whole divisors of 60 give even intervals; longer periods round to whole minutes."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"* * * * * */{whole}"
    minutes = max(1, round(whole / 60))
    if minutes < 60:
        return f"*/{minutes} * * * * 0"
    return f"0 */{min(23, max(1, round(minutes / 60)))} * * * 0"


@dataclass(frozen=True, slots=True)
class CronIntervals:
    """How often each sweeper cron runs, in seconds; None leaves it out (tests and benchmarks
    that must see only the path they measure)."""

    pending_payments: float | None = 30.0
    due_retries: float | None = 5.0
    stuck_orders: float | None = 60.0
    refunds: float | None = 5.0
    #: The event relay: a pass every second (deliveries are near-live; an idle pass is two
    #: indexed reads).
    relay_events: float | None = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CronIntervals:
        return cls(
            pending_payments=settings.pending_recheck_seconds,
            # A retry is scheduled at its time by the job itself; this sweep is the backstop,
            # no coarser than the shortest backoff.
            due_retries=min(5.0, max(1.0, settings.retry_backoff_base_seconds)),
            # Often enough that a stuck order waits little more than its lease.
            stuck_orders=min(60.0, max(1.0, math.floor(settings.stuck_step_lease_seconds / 4))),
            # Refunds are scheduled at their time by the job itself too; this is the backstop
            # (and what resumes a refund call a dead worker left unanswered).
            refunds=min(5.0, max(1.0, settings.retry_backoff_base_seconds)),
        )


def worker_settings(
    settings: Settings,
    *,
    queue_name: str = DEFAULT_QUEUE_NAME,
    configure: Callable[[Container], None] | None = None,
    crons: CronIntervals | None = None,
) -> SettingsDict[WorkerContext]:
    """Everything a ``saq.Worker`` needs. ``startup`` builds the container (``configure`` runs
    on it first: tests override providers there) and puts the use-cases in the context;
    ``shutdown`` closes it."""
    if settings.redis_url is None:
        raise SettingsError("REDIS_URL", "is required by the worker")
    crons = crons or CronIntervals.from_settings(settings)

    def configure_container(container: Container) -> None:
        container.saq_queue_name.override(providers.Object(queue_name))
        # The relay's webhook body: the order as the API shows it (its schema, not the
        # container's to import).
        container.event_body.override(providers.Object(event_webhook_body))
        if configure is not None:
            configure(container)

    async def startup(ctx: WorkerContext) -> None:
        stack = AsyncExitStack()
        try:
            container = await stack.enter_async_context(
                running(settings, configure=configure_container)
            )
            ctx["services"] = Services(
                container=container,
                scheduler=await resolve(container.scheduler, SaqJobScheduler),
                advance_order=await resolve(container.advance_order, AdvanceOrder),
                retry_failed_orders=await resolve(container.retry_failed_orders, RetryFailedOrders),
                poll_pending_payments=await resolve(
                    container.poll_pending_payments, PollPendingPayments
                ),
                resume_stuck_orders=await resolve(container.resume_stuck_orders, ResumeStuckOrders),
                relay_events=await resolve(container.relay_events, RelayEvents),
                drive_refunds=await resolve(container.drive_refunds, DriveRefunds),
                stack=stack,
            )
        except BaseException:
            await stack.aclose()
            raise

    async def shutdown(ctx: WorkerContext) -> None:
        services = ctx.get("services")
        if services is not None:
            await services.stack.aclose()

    return {
        "queue": make_queue(settings.redis_url, queue_name),
        "functions": [(ADVANCE_ORDER_JOB, tasks.advance_order)],
        "concurrency": settings.worker_concurrency,
        "cron_jobs": [
            _sweep(function, seconds)
            for function, seconds in (
                (tasks.recheck_pending_payments, crons.pending_payments),
                (tasks.retry_due_orders, crons.due_retries),
                (tasks.resume_stuck_orders, crons.stuck_orders),
                (tasks.drive_due_refunds, crons.refunds),
            )
            if seconds is not None
        ]
        + (
            []
            if crons.relay_events is None
            # Heartbeating: a relay pass left by a killed worker is swept within seconds, not
            # after the timeout, so the next pass is not held back by its unique cron key.
            else [_sweep(tasks.relay_events, crons.relay_events, heartbeat=RELAY_HEARTBEAT)]
        ),
        "startup": startup,
        "shutdown": shutdown,
        # The job key and order id on every log line of the job (entrypoints/log_config.py).
        "before_process": bind_job_context,
        "after_process": tasks.after_process,
        "timers": TIMERS,
        "dequeue_timeout": DEQUEUE_TIMEOUT_SECONDS,
    }


#: The relay pass's heartbeat, seconds.
RELAY_HEARTBEAT = 3


def _sweep(
    function: Callable[[WorkerContext], Awaitable[int]], seconds: float, *, heartbeat: int = 0
) -> CronJob[WorkerContext]:
    # A sweep that overruns its interval is skipped (SAQ's unique cron key), never doubled; a
    # failed one is simply run again at the next tick.
    return CronJob(
        function,
        cron=cron_every(seconds),
        timeout=120,
        heartbeat=heartbeat or None,
        retries=1,
        ttl=60,
    )


def settings() -> SettingsDict[WorkerContext]:
    """For ``saq entrypoints.worker.settings.settings``: the environment's settings."""
    return worker_settings(Settings.from_env(runs_pipeline=True))
