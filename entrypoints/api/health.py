"""Probes: ``/health`` (the process answers) and ``/ready`` (its store and queue answer)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import SkipValidation

from adapters.mongo import MongoDurabilityProbe
from application.errors import InfrastructureUnavailable
from application.ports import JobScheduler, OrderRepository
from entrypoints.api.openapi import ApiOperation
from entrypoints.api.problems import problem_responses
from entrypoints.api.schemas import Health, Readiness, WriteConcernView


@get(
    "/health",
    operation_id="getHealth",
    operation_class=ApiOperation,
    tags=["probes"],
    summary="The process is up",
    responses=problem_responses(),
)
async def health() -> Health:
    return Health(status="ok")


@get(
    "/ready",
    operation_id="getReadiness",
    operation_class=ApiOperation,
    tags=["probes"],
    summary="The repository and the queue are reachable",
    description="503 (problem) naming what is unreachable. `adapters` gives the kind of each "
    "adapter (`mongo`/`memory`, `http`/`fake`, `saq`/`inprocess`; docs/adr/0008-orders-mode.md). "
    "`write_concern`: what MongoDB can acknowledge now; a majority write concern that a replica "
    "set cannot give (too few members up, or no primary) is a 503 naming the repository.",
    responses=problem_responses(503),
)
async def ready(
    # Ports are Protocols, which Litestar cannot isinstance-check: SkipValidation.
    repository: NamedDependency[SkipValidation[OrderRepository]],
    scheduler: NamedDependency[SkipValidation[JobScheduler]],
    adapter_kinds: NamedDependency[SkipValidation[dict[str, str]]],
    durability_probe: NamedDependency[SkipValidation[MongoDurabilityProbe | None]],
) -> Readiness:
    checks = {
        "repository": await _check(repository.ping),
        "queue": await _check(scheduler.ping),
    }
    write_concern = None
    if durability_probe is not None:
        # The driver's own view of the members: no round trip of its own.
        state = durability_probe.check()
        write_concern = WriteConcernView(
            requested=state.requested,
            topology=state.topology,
            members=state.members,
            members_up=state.members_up,
            majority_available=state.majority_available,
        )
        if state.blocks_writes and checks["repository"] == "ok":
            checks["repository"] = (
                f"{state.requested} unavailable: {state.members_up} of {state.members} "
                f"members of the {state.topology} answer as primary or secondary"
            )
    failed = {name: state for name, state in checks.items() if state != "ok"}
    if failed:
        # One word per component: the problem's code is ``<component>_unavailable``.
        raise InfrastructureUnavailable(
            "_and_".join(failed), "; ".join(f"{k}: {v}" for k, v in failed.items())
        )
    return Readiness(
        status="ready", checks=checks, adapters=adapter_kinds, write_concern=write_concern
    )


async def _check(ping: Callable[[], Awaitable[Any] | Any] | None) -> str:
    if ping is None:
        return "ok"
    try:
        result = ping()
        if inspect.isawaitable(result):
            await result
    except Exception as exc:  # noqa: BLE001 - whatever fails, the probe's answer is "not ready"
        return str(exc) or type(exc).__name__
    return "ok"
