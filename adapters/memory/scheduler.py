"""Run ``AdvanceOrder`` in this process, for the stack without a queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from application.ports import Clock

log = logging.getLogger(__name__)

Runner = Callable[[str], Awaitable[object]]


class InProcessScheduler:
    """One timer per order (the earliest wins, like a queue deduplicating by key) and one run
    per order at a time. Nothing survives a restart: the sweepers find the orders again."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._runner: Runner | None = None
        self._timers: dict[str, tuple[datetime | None, asyncio.Task[None]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    def bind(self, runner: Runner) -> None:
        """Set what a due job runs (``AdvanceOrder.execute``); it needs this scheduler itself."""
        self._runner = runner

    async def schedule_advance(self, order_id: str, *, at: datetime | None = None) -> None:
        if self._closed:
            return
        queued = self._timers.get(order_id)
        if queued is not None:
            queued_at, task = queued
            if not task.done() and (queued_at is None or (at is not None and queued_at <= at)):
                return
            task.cancel()
        delay = 0.0 if at is None else max((at - self._clock.now()).total_seconds(), 0.0)
        self._timers[order_id] = (at, asyncio.create_task(self._run_later(order_id, delay)))

    async def ping(self) -> None:
        """In-process: reachable while the process runs."""

    async def _run_later(self, order_id: str, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        current = asyncio.current_task()
        entry = self._timers.get(order_id)
        if entry is not None and entry[1] is current:
            del self._timers[order_id]
        if self._runner is None:
            raise RuntimeError("InProcessScheduler.bind() was never called")
        lock = self._locks.setdefault(order_id, asyncio.Lock())
        async with lock:
            try:
                await self._runner(order_id)
            except Exception:
                log.exception("advancing order %s failed; the sweepers will retry it", order_id)

    async def close(self) -> None:
        self._closed = True
        tasks = [t for _, t in self._timers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._timers.clear()
