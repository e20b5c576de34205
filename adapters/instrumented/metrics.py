"""Every metric the service exports, in one place, on prometheus-client's default registry
(which also carries the process collectors: CPU, memory, open files).

Names follow Prometheus conventions: ``_total`` counters, ``_seconds`` histograms and gauges.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

#: Latency buckets (seconds) for HTTP answers and downstream calls: 5 ms .. 30 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "orders_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "orders_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOKS = Counter(
    "orders_webhooks_total",
    "Payment webhooks received, by outcome (accepted, duplicate, ignored, bad_signature, "
    "unknown_payment, bad_request, unavailable, error).",
    ["outcome"],
)
DOWNSTREAM_CALLS = Counter(
    "orders_downstream_calls_total",
    "Calls to the payment gateway, wallet and transfer services, by service, operation and "
    "outcome (ok, timeout, transient_error, permanent_error, error).",
    ["service", "operation", "outcome"],
)
DOWNSTREAM_LATENCY = Histogram(
    "orders_downstream_call_duration_seconds",
    "Time of a downstream call (retries inside the adapter included), by service and operation.",
    ["service", "operation"],
    buckets=LATENCY_BUCKETS,
)
EVENTS = Counter(
    "orders_events_total",
    "Order events stored (with the state change that caused them), by type (docs/events.md).",
    ["type"],
)
STATUS_ENTERED = Counter(
    "orders_status_entered_total",
    "Orders entering each status (counted when the move is saved).",
    ["status"],
)
RETRIES = Counter(
    "orders_step_retries_total",
    "Failed steps tried again (a fail status moving back to its step), by step.",
    ["step"],
)
PARKINGS = Counter(
    "orders_parkings_total",
    "Orders parked after their last automatic attempt failed (a person must look).",
)
OPERATOR_RETRIES = Counter(
    "orders_operator_retries_total",
    "Retries asked for by an operator (admin API), by result.",
    ["result"],
)
EVENT_DELIVERIES = Counter(
    "orders_event_deliveries_total",
    "Order-event delivery attempts by the relay, by subscriber and outcome (delivered, failed, "
    "gone: refused with 410 and skipped, dead: given up after the retry window).",
    ["subscriber", "outcome"],
)
OPERATOR_REFUNDS = Counter(
    "orders_operator_refunds_total",
    "Refunds of parked orders asked for by an operator (admin API), by result.",
    ["result"],
)
OPERATOR_RESENDS = Counter(
    "orders_operator_resends_total",
    "Transfers re-sent under a new key by an operator (admin API), by result.",
    ["result"],
)
REFUNDS = Counter(
    "orders_refunds_total",
    "Refunds by what happened to them (requested, pending, succeeded, failed), counted when saved.",
    ["status"],
)
TRANSFERS_SHORT = Counter(
    "orders_transfers_short_total",
    "Confirmed transfers that delivered less than min_amount_token_receive (the order parks; "
    "alert on any increase).",
)
PARKED = Gauge("orders_parked", "Orders parked right now (refreshed on every scrape).")
OLDEST_OPEN_AGE = Gauge(
    "orders_oldest_open_age_seconds",
    "Age of the oldest order in each non-terminal status (0 when none); refreshed on every "
    "scrape. Alert on it: an order is stuck.",
    ["status"],
)


@lru_cache(maxsize=4096)
def child(metric: Any, *labels: str | int) -> Any:
    """``metric.labels(*labels)``, cached: prometheus-client takes a lock and validates the
    labels on every ``labels()`` call, which is most of a metric's cost on a hot path. Label
    values here are route templates, statuses and service names: a small, bounded set. An int
    (an HTTP status) is cached as it is and labelled with its ``str``, made once."""
    return metric.labels(*labels)
