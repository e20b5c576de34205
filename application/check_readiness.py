"""Is the service ready to take work: its store and queue answer, and the store can acknowledge
the write concern it asks for."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from application.errors import InfrastructureUnavailable
from application.ports import JobScheduler, OrderRepository
from application.ports.durability import Durability, DurabilityProbe

OK = "ok"


@dataclass(frozen=True, slots=True)
class Readiness:
    """``checks``: ``ok`` or what failed, per component (``repository``, ``queue``);
    ``durability``: the store's write concern now (None without a probe: the in-memory store)."""

    checks: dict[str, str]
    durability: Durability | None


class CheckReadiness:
    """Pings the repository and the queue, then reads the durability probe (no round trip).

    ``execute`` returns the :class:`Readiness` when every component is ``ok``; otherwise raises
    ``InfrastructureUnavailable`` whose component is the failed ones joined by ``_and_`` and whose
    message says each failure. A majority write concern the replica set cannot give now counts as
    the repository's failure. Never raises anything else: a ping's error is its message."""

    def __init__(
        self,
        repository: OrderRepository,
        scheduler: JobScheduler,
        durability_probe: DurabilityProbe | None = None,
    ) -> None:
        self._repository = repository
        self._scheduler = scheduler
        self._probe = durability_probe

    async def execute(self) -> Readiness:
        checks = {
            "repository": await _check(self._repository.ping),
            "queue": await _check(self._scheduler.ping),
        }
        durability = None if self._probe is None else self._probe.check()
        if durability is not None and durability.blocks_writes and checks["repository"] == OK:
            checks["repository"] = (
                f"{durability.requested} unavailable: {durability.members_up} of "
                f"{durability.members} members of the {durability.topology} answer as primary "
                "or secondary"
            )
        failed = {name: state for name, state in checks.items() if state != OK}
        if failed:
            # One word per component: the problem's code is ``<component>_unavailable``.
            raise InfrastructureUnavailable(
                "_and_".join(failed), "; ".join(f"{k}: {v}" for k, v in failed.items())
            )
        return Readiness(checks=checks, durability=durability)


async def _check(ping: Callable[[], Awaitable[Any] | Any] | None) -> str:
    if ping is None:
        return OK
    try:
        result = ping()
        if inspect.isawaitable(result):
            await result
    except Exception as exc:  # noqa: BLE001 - whatever fails, the probe's answer is "not ready"
        return str(exc) or type(exc).__name__
    return OK
