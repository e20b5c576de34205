"""Probes: ``/health`` (the process answers) and ``/ready`` (its store and queue answer)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import SkipValidation

from application.check_readiness import CheckReadiness
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
    check_readiness: NamedDependency[CheckReadiness],
    adapter_kinds: NamedDependency[SkipValidation[dict[str, str]]],
) -> Readiness:
    found = await check_readiness.execute()
    state = found.durability
    write_concern = (
        None
        if state is None
        else WriteConcernView(
            requested=state.requested,
            topology=state.topology,
            members=state.members,
            members_up=state.members_up,
            majority_available=state.majority_available,
        )
    )
    return Readiness(
        status="ready", checks=found.checks, adapters=adapter_kinds, write_concern=write_concern
    )
