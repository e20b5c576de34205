"""The in-process scheduler: earliest timer wins, one run per order at a time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from adapters.clock import SystemClock
from adapters.memory import InProcessScheduler


async def test_a_job_runs_once_and_a_later_duplicate_is_absorbed() -> None:
    clock = SystemClock()
    scheduler = InProcessScheduler(clock)
    ran: list[str] = []
    done = asyncio.Event()

    async def runner(order_id: str) -> None:
        ran.append(order_id)
        done.set()

    scheduler.bind(runner)
    await scheduler.schedule_advance("o1", at=clock.now() + timedelta(milliseconds=20))
    await scheduler.schedule_advance("o1", at=clock.now() + timedelta(seconds=30))
    await asyncio.wait_for(done.wait(), timeout=5)
    await _let_ready_tasks_run()
    assert ran == ["o1"]
    await scheduler.close()


async def test_an_earlier_request_replaces_a_later_timer() -> None:
    clock = SystemClock()
    scheduler = InProcessScheduler(clock)
    done = asyncio.Event()

    async def runner(order_id: str) -> None:
        done.set()

    scheduler.bind(runner)
    await scheduler.schedule_advance("o1", at=clock.now() + timedelta(seconds=60))
    await scheduler.schedule_advance("o1")
    await asyncio.wait_for(done.wait(), timeout=5)
    await scheduler.close()


async def test_runs_of_one_order_never_overlap() -> None:
    clock = SystemClock()
    scheduler = InProcessScheduler(clock)
    active = 0
    most = 0
    runs = 0
    first_started = asyncio.Event()
    release = asyncio.Event()
    both_finished = asyncio.Event()

    async def runner(order_id: str) -> None:
        nonlocal active, most, runs
        active += 1
        most = max(most, active)
        first_started.set()
        await release.wait()
        active -= 1
        runs += 1
        if runs == 2:
            both_finished.set()

    scheduler.bind(runner)
    await scheduler.schedule_advance("o1")
    await asyncio.wait_for(first_started.wait(), timeout=5)
    await scheduler.schedule_advance("o1")  # a new request while it runs: queued behind it
    await _let_ready_tasks_run()
    assert active == 1  # the second run waits for the first
    release.set()
    await asyncio.wait_for(both_finished.wait(), timeout=5)
    assert most == 1
    await scheduler.close()


async def test_a_failing_run_is_logged_not_raised() -> None:
    clock = SystemClock()
    scheduler = InProcessScheduler(clock)
    done = asyncio.Event()

    async def runner(order_id: str) -> None:
        done.set()
        raise RuntimeError("boom")

    scheduler.bind(runner)
    await scheduler.schedule_advance("o1")
    await asyncio.wait_for(done.wait(), timeout=5)
    await scheduler.close()


async def _let_ready_tasks_run() -> None:
    """Give every task that is ready a few turns of the loop (no wall-clock wait)."""
    for _ in range(10):
        await asyncio.sleep(0)
