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
    await asyncio.sleep(0.05)
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
    finished = 0

    async def runner(order_id: str) -> None:
        nonlocal active, most, finished
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.02)
        active -= 1
        finished += 1

    scheduler.bind(runner)
    await scheduler.schedule_advance("o1")
    await asyncio.sleep(0.005)  # the first run is active now
    await scheduler.schedule_advance("o1")  # a new request while it runs: queued behind it
    for _ in range(100):
        if finished == 2:
            break
        await asyncio.sleep(0.01)
    assert finished == 2
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
