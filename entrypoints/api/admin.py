"""``/api/admin``: the operator's API, behind ``Authorization: Bearer <ADMIN_TOKEN>``.

Search orders (filters, sort, cursor pages), read one order's history with its webhook events,
the order book's figures, and retry an order now. With ``ADMIN_TOKEN`` unset every admin request
is refused: the admin API is never open. Every query parameter is checked; a bad one is a 400
problem naming it (an unknown one too, so a misspelt filter never silently lists everything).
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, Parameter, SkipValidation

from adapters.instrumented.metrics import OPERATOR_RETRIES
from application.errors import InvalidQuery, NotParked, OrderNotFound
from application.order_history import GetOrderHistory
from application.order_stats import OrderStats, Stats
from application.ports import Clock
from application.ports.order_queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    OPEN_STATUSES,
    OrderFilters,
    OrderSort,
    SortDirection,
    SortField,
)
from application.retry_order_now import RetryOrderNow
from application.search_orders import SearchOrders
from domain import Order, OrderStatus, grammar
from entrypoints.api.dependencies import FromContainer, container_of
from entrypoints.api.problems import FieldError, Problem, problem, problem_responses
from entrypoints.api.schemas import OrderView
from entrypoints.logging import bind_order

# --- authentication ----------------------------------------------------------------------------


def token_matches(provided: str, expected: str) -> bool:
    """Constant-time comparison: the time taken does not tell how much of the token matched."""
    return hmac.compare_digest(provided.encode("utf-8"), expected.encode("utf-8"))


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def require_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard of every admin route: 401 unless the bearer token is ``ADMIN_TOKEN``."""
    expected = container_of(connection.app.state).settings().admin_token
    if not expected:
        raise NotAuthorizedException(
            "the admin API is disabled: ADMIN_TOKEN is not set on the server"
        )
    provided = bearer_token(connection.headers.get("authorization"))
    if provided is None:
        raise NotAuthorizedException("Authorization: Bearer <admin token> is required")
    if not token_matches(provided, expected):
        raise NotAuthorizedException("the admin token is not valid")


# --- query parsing -----------------------------------------------------------------------------

LIST_PARAMETERS = frozenset(
    {
        "status",
        "pool_id",
        "token_symbol",
        "fiat_currency",
        "created_from",
        "created_to",
        "min_price_fiat",
        "max_price_fiat",
        "parked",
        "sort",
        "direction",
        "cursor",
        "limit",
    }
)
_STATUSES = ", ".join(s.value for s in OrderStatus)


def _one(request: Request[Any, Any, Any], name: str) -> str | None:
    values = request.query_params.getall(name, [])
    if not values:
        return None
    if len(values) > 1:
        raise InvalidQuery(name, "is given more than once")
    value = str(values[0]).strip()
    if not value:
        raise InvalidQuery(name, "must not be empty")
    return value


def _statuses(request: Request[Any, Any, Any]) -> frozenset[OrderStatus]:
    found: set[OrderStatus] = set()
    for raw in request.query_params.getall("status", []):
        for part in str(raw).split(","):
            name = part.strip()
            try:
                found.add(OrderStatus(name))
            except ValueError:
                raise InvalidQuery(
                    "status", f"unknown status {name!r}; one of {_STATUSES}"
                ) from None
    return frozenset(found)


def _text(request: Request[Any, Any, Any], name: str) -> str | None:
    value = _one(request, name)
    if value is not None and len(value) > 128:
        raise InvalidQuery(name, "must be at most 128 characters")
    return value


def _time(request: Request[Any, Any, Any], name: str) -> datetime | None:
    value = _one(request, name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidQuery(name, "must be an ISO 8601 time, e.g. 2026-03-01T00:00:00Z") from None
    if moment.tzinfo is None:
        raise InvalidQuery(name, "must carry a timezone, e.g. 2026-03-01T00:00:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidQuery(name, "is out of range") from None


def _amount(request: Request[Any, Any, Any], name: str) -> Decimal | None:
    value = _one(request, name)
    if value is None:
        return None
    if len(value) > 32 or not grammar.DECIMAL_TEXT.matches(value):
        raise InvalidQuery(name, "must be a decimal number such as 12.50")
    return Decimal(value)


def _choice(request: Request[Any, Any, Any], name: str, choices: tuple[str, ...]) -> str | None:
    value = _one(request, name)
    if value is not None and value not in choices:
        raise InvalidQuery(name, f"must be one of {', '.join(choices)}")
    return value


def parse_search(
    request: Request[Any, Any, Any],
) -> tuple[OrderFilters, OrderSort, str | None, int]:
    """The filters, sort, cursor and limit of ``GET /api/admin/orders``, or ``InvalidQuery``."""
    for name in request.query_params:
        if name not in LIST_PARAMETERS:
            raise InvalidQuery(name, "is not a parameter of this endpoint")
    currency = _one(request, "fiat_currency")
    if currency is not None and (words := grammar.currency_problem(currency)) is not None:
        raise InvalidQuery("fiat_currency", words)
    parked = _choice(request, "parked", ("true", "false"))
    filters = OrderFilters(
        statuses=_statuses(request),
        pool_id=_text(request, "pool_id"),
        token_symbol=_text(request, "token_symbol"),
        fiat_currency=currency,
        created_from=_time(request, "created_from"),
        created_to=_time(request, "created_to"),
        min_price_fiat=_amount(request, "min_price_fiat"),
        max_price_fiat=_amount(request, "max_price_fiat"),
        parked_only=parked == "true",
    )
    sort = OrderSort(
        SortField(_choice(request, "sort", tuple(f.value for f in SortField)) or "created_at"),
        SortDirection(
            _choice(request, "direction", tuple(d.value for d in SortDirection)) or "desc"
        ),
    )
    raw_limit = _one(request, "limit")
    limit = DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        if not raw_limit.isdigit() or len(raw_limit) > 6:
            raise InvalidQuery("limit", f"must be a whole number between 1 and {MAX_PAGE_SIZE}")
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    return filters, sort, _one(request, "cursor"), limit


def invalid_query(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    assert isinstance(exc, InvalidQuery)
    return problem(
        400,
        "invalid_parameter",
        str(exc),
        errors=[FieldError(field=exc.parameter, message=exc.message)],
    )


# --- answers -----------------------------------------------------------------------------------


class OrderSummary(msgspec.Struct, frozen=True):
    """One line of the admin listing."""

    id: str
    reference_id: str
    status: str
    pool_id: str
    token_symbol: str
    amount_token: str
    fiat_currency: str
    price_fiat: str
    payment_id: str
    smart_wallet_address: str | None
    parked: bool
    parked_reason: str | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: Order) -> OrderSummary:
        return cls(
            id=order.id,
            reference_id=order.reference_id,
            status=order.status.value,
            pool_id=order.pool_id,
            token_symbol=order.token_symbol,
            amount_token=f"{order.amount_token:f}",
            fiat_currency=order.fiat_currency,
            price_fiat=f"{order.price_fiat:f}",
            payment_id=order.payment.id,
            smart_wallet_address=order.smart_wallet_address,
            parked=order.parked,
            parked_reason=order.parked_reason,
            last_error=order.last_error,
            next_attempt_at=order.next_attempt_at,
            created_at=order.created_at,
            updated_at=order.updated_at,
        )


class OrderListing(msgspec.Struct, frozen=True):
    """A page of orders; pass ``next_cursor`` as ``cursor`` (same filters and sort) for the next
    page. ``next_cursor`` null: this is the last page."""

    orders: list[OrderSummary]
    next_cursor: str | None
    limit: int
    sort: str


class WebhookEventView(msgspec.Struct, frozen=True):
    event_id: str
    received_at: datetime
    outcome: str
    payload: str


class HistoryView(msgspec.Struct, frozen=True):
    """The order (with its status history, attempts and last error) and its payment's webhook
    events, oldest first."""

    order: OrderView
    attempts: dict[str, int]
    parked_reason: str | None
    next_attempt_at: datetime | None
    webhook_events: list[WebhookEventView]


class MonthView(msgspec.Struct, frozen=True):
    month: str
    currency: str
    orders: int
    paid_orders: int
    paid_volume: str


class OldestView(msgspec.Struct, frozen=True):
    order_id: str
    reference_id: str
    created_at: datetime
    age_seconds: str


class StatsView(msgspec.Struct, frozen=True):
    """Rates are fractions (``"0.9500"``), times in seconds, amounts decimal strings; null when
    there is nothing to compute them from."""

    at: datetime
    total: int
    by_status: dict[str, int]
    parked: int
    months: list[MonthView]
    payment_success_rate: str | None
    completion_rate: str | None
    paid_to_completed_avg_seconds: str | None
    paid_to_completed_p95_seconds: str | None
    oldest_open: dict[str, OldestView]

    @classmethod
    def of(cls, stats: Stats) -> StatsView:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else f"{value:f}"

        return cls(
            at=stats.at,
            total=stats.total,
            by_status={s.value: stats.counts.of(s) for s in OrderStatus},
            parked=stats.parked,
            months=[
                MonthView(m.month, m.currency, m.orders, m.paid_orders, f"{m.paid_volume:f}")
                for m in stats.months
            ],
            payment_success_rate=text(stats.payment_success_rate),
            completion_rate=text(stats.completion_rate),
            paid_to_completed_avg_seconds=text(stats.paid_to_completed_avg_seconds),
            paid_to_completed_p95_seconds=text(stats.paid_to_completed_p95_seconds),
            oldest_open={
                s.value: OldestView(
                    order_id=o.order_id,
                    reference_id=o.reference_id,
                    created_at=o.created_at,
                    age_seconds=f"{stats.age_seconds(s) or 0:f}",
                )
                for s in OPEN_STATUSES
                if (o := stats.oldest.get(s)) is not None
            },
        )


# --- handlers ----------------------------------------------------------------------------------

OrderId = Annotated[str, Parameter(min_length=1, max_length=128, description="The order id.")]
_AUTH = "Authorization: Bearer <ADMIN_TOKEN> is required (401 without it)."


@get(
    "/orders",
    summary="Search orders",
    description=(
        f"{_AUTH} Filters (all optional, combined with AND): `status` (repeat it or "
        "comma-separate several), `pool_id`, `token_symbol`, `fiat_currency`, `created_from` "
        "(inclusive) / `created_to` (exclusive) as ISO 8601 times with a timezone, "
        "`min_price_fiat` / `max_price_fiat` (inclusive), `parked=true`. `sort` created_at "
        f"(default) or price_fiat, `direction` desc (default) or asc, `limit` 1..{MAX_PAGE_SIZE} "
        f"(default {DEFAULT_PAGE_SIZE}), `cursor` from the previous page (same filters and sort)."
    ),
    responses=problem_responses(400, 401, 429, 503),
)
async def search_orders(
    request: Request[Any, Any, Any], search: NamedDependency[SearchOrders]
) -> OrderListing:
    filters, sort, cursor, limit = parse_search(request)
    result = await search.execute(filters, sort, cursor=cursor, limit=limit)
    return OrderListing(
        orders=[OrderSummary.of(o) for o in result.orders],
        next_cursor=result.next_cursor,
        limit=limit,
        sort=sort.tag,
    )


@get(
    "/orders/{order_id:str}/history",
    summary="An order's status history and its webhook events",
    description=_AUTH,
    responses=problem_responses(400, 401, 404, 429, 503),
)
async def order_history(
    order_id: FromPath[OrderId], history: NamedDependency[GetOrderHistory]
) -> HistoryView:
    found = await history.execute(order_id)
    order = found.order
    bind_order(order.id, order.reference_id)
    return HistoryView(
        order=OrderView.of(order),
        attempts={step.value: n for step, n in order.attempts.items()},
        parked_reason=order.parked_reason,
        next_attempt_at=order.next_attempt_at,
        webhook_events=[
            WebhookEventView(
                event_id=e.event_id,
                received_at=e.received_at,
                outcome=e.outcome,
                payload=e.raw_payload.decode("utf-8", errors="replace"),
            )
            for e in found.webhook_events
        ],
    )


@get(
    "/stats",
    summary="Figures of the whole order book",
    description=(
        f"{_AUTH} Counts per status, orders and paid fiat volume per month and currency, payment "
        "success rate (paid / decided), completion rate (completed / paid), average and p95 "
        "(nearest rank) time from completed_pay to completed, parked orders, and the oldest "
        "order of each non-terminal status."
    ),
    responses=problem_responses(400, 401, 429, 503),
)
async def order_stats(
    stats: NamedDependency[OrderStats],
    # Ports are Protocols, which Litestar cannot isinstance-check: SkipValidation.
    clock: NamedDependency[SkipValidation[Clock]],
) -> StatsView:
    return StatsView.of(await stats.execute(clock.now()))


@post(
    "/orders/{order_id:str}/retry",
    status_code=200,
    summary="Retry an order now",
    description=(
        f"{_AUTH} Un-parks a failed order (fresh attempt budget) and schedules it at once; an "
        "order in another non-terminal status is only nudged. A finished order: 409."
    ),
    responses=problem_responses(400, 401, 404, 409, 429, 503),
)
async def retry_order(
    order_id: FromPath[OrderId], retry: NamedDependency[RetryOrderNow]
) -> OrderSummary:
    bind_order(order_id)
    try:
        order = await retry.execute(order_id=order_id)
    except (OrderNotFound, NotParked):
        OPERATOR_RETRIES.labels("refused").inc()
        raise
    OPERATOR_RETRIES.labels("scheduled").inc()
    bind_order(order.id, order.reference_id)
    return OrderSummary.of(order)


# --- wiring ------------------------------------------------------------------------------------


#: Registered on the app with the others (entrypoints/api/dependencies.py).
ADMIN_DEPENDENCIES = {
    "search": FromContainer("search_orders", SearchOrders),
    "stats": FromContainer("order_stats", OrderStats),
    "history": FromContainer("get_order_history", GetOrderHistory),
    "retry": FromContainer("retry_order_now", RetryOrderNow),
}

admin_router = Router(
    path="/api/admin",
    route_handlers=[search_orders, order_history, order_stats, retry_order],
    guards=[require_admin],
    tags=["admin"],
    exception_handlers={InvalidQuery: invalid_query},
    security=[{"AdminToken": []}],
)
