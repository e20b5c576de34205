"""``GET /metrics``: Prometheus text format. The gauges about the order book (parked orders,
age of the oldest order in each non-terminal status) are refreshed from ``OrderQueries`` at each
scrape, with index-served reads; a store that does not answer leaves them as they were."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import cast

from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from adapters.instrumented.metrics import OLDEST_OPEN_AGE, PARKED
from application.ports import Clock
from application.ports.order_queries import OPEN_STATUSES, OrderQueries
from entrypoints.api.dependencies import container_of
from entrypoints.container import resolve

log = logging.getLogger(__name__)


async def refresh_order_gauges(queries: OrderQueries, now: datetime) -> None:
    oldest = await queries.oldest_open()
    parked = await queries.parked_count()
    PARKED.set(parked)
    for status in OPEN_STATUSES:
        found = oldest.get(status)
        age = 0.0 if found is None else max((now - found.created_at).total_seconds(), 0.0)
        OLDEST_OPEN_AGE.labels(status.value).set(age)


@get("/metrics", include_in_schema=False)
async def metrics(state: State) -> Response[bytes]:
    container = container_of(state)
    try:
        queries = cast(OrderQueries, await resolve(container.order_queries, object))
        clock = cast(Clock, await resolve(container.clock, object))
        await refresh_order_gauges(queries, clock.now())
    except Exception as exc:  # noqa: BLE001 - a scrape must answer even when the store is down
        log.warning("order gauges not refreshed: %s", exc)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
