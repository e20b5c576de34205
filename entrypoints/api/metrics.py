"""``GET /metrics``: Prometheus text format. The gauges about the order book (parked orders,
age of the oldest order in each non-terminal status) are refreshed by ``MeasureOpenOrders`` at
each scrape; a store that does not answer leaves them as they were."""

from __future__ import annotations

import logging

from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from adapters.instrumented.metrics import OLDEST_OPEN_AGE, PARKED
from application.order_stats import MeasureOpenOrders, OpenOrderAges
from entrypoints.api.dependencies import container_of
from entrypoints.container import resolve

log = logging.getLogger(__name__)


def set_order_gauges(figures: OpenOrderAges) -> None:
    """The parked count and each open status's oldest age, as the Prometheus gauges."""
    PARKED.set(figures.parked)
    for status, age in figures.oldest.items():
        OLDEST_OPEN_AGE.labels(status.value).set(age.total_seconds())


@get("/metrics", include_in_schema=False)
async def metrics(state: State) -> Response[bytes]:
    container = container_of(state)
    try:
        measure = await resolve(container.measure_open_orders, MeasureOpenOrders)
        set_order_gauges(await measure.execute())
    except Exception as exc:  # noqa: BLE001 - a scrape must answer even when the store is down
        log.warning("order gauges not refreshed: %s", exc)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
