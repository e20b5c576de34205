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
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, ValidationException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Example
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from adapters.instrumented.metrics import OPERATOR_REFUNDS, OPERATOR_RESENDS, OPERATOR_RETRIES
from application.errors import InvalidQuery, OrderFinished, OrderNotFound, RefundConflict
from application.order_history import GetOrderHistory
from application.order_stats import CurrentOrderStats, Stats
from application.period_stats import PeriodOrderStats, PeriodStats
from application.ports import Delivery
from application.ports.order_queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    OPEN_STATUSES,
    OrderFilters,
    OrderSort,
    SortDirection,
    SortField,
)
from application.refund_order import RefundOrder
from application.relay_events import OrderDeliveries, ReadDeliveries, RedeliverEvents
from application.retry_order_now import RetryOrderNow
from application.retry_transfer import RetryTransfer
from application.search_orders import MAX_CURSOR_LENGTH, SearchOrders
from domain import Order, OrderEvent, OrderStatus, RefundStatus, grammar
from entrypoints.api.bodies import BODY_PROBLEMS, JSON_BODY
from entrypoints.api.dependencies import FromContainer, container_of
from entrypoints.api.guards import require_json_body
from entrypoints.api.openapi import ApiOperation
from entrypoints.api.problems import (
    FieldError,
    Problem,
    field_errors,
    problem,
    problem_responses,
)
from entrypoints.api.schemas import (
    DECIMAL_PATTERN,
    ORDER_ID_EXAMPLE,
    EventView,
    OperatorReasonBody,
    OrderView,
    RefundView,
    ms_text,
    ms_text_or_none,
    operator_reason_problems,
    said,
    when,
)
from entrypoints.log_config import bind_order

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


# --- query parameters --------------------------------------------------------------------------
# Litestar parses and checks each parameter against its declaration below (type, bounds,
# pattern; the same declaration is the OpenAPI document's); what a declaration cannot say (a
# parameter given twice or not at all known, comma-separated statuses, a time zone, a range) is
# checked in ``search_filters``. Every refusal is a 400 ``invalid_parameter`` naming it.

_STATUSES = ", ".join(s.value for s in OrderStatus)
_TEXT = {"min_length": 1, "max_length": 128}
_TIME_EXAMPLE = [Example(value="2026-03-01T00:00:00Z")]
_AMOUNT = {"pattern": DECIMAL_PATTERN, "max_length": 32}

StatusParam = Annotated[
    list[str] | None,
    QueryParameter(
        description=f"Order statuses (any of them): {_STATUSES}. Repeat the parameter or "
        "comma-separate several.",
        schema_extra={"items": {"type": "string", "enum": [s.value for s in OrderStatus]}},
    ),
]
PoolParam = Annotated[str | None, QueryParameter(description="Orders of this pool.", **_TEXT)]
SymbolParam = Annotated[str | None, QueryParameter(description="Orders of this token.", **_TEXT)]
CurrencyParam = Annotated[
    str | None,
    QueryParameter(
        description="Orders paid in this currency (ISO 4217, upper case).",
        pattern=grammar.CURRENCY.wire_pattern,
        examples=[Example(value="EUR")],
    ),
]
FromParam = Annotated[
    datetime | None,
    QueryParameter(
        description="Orders created at or after this time (ISO 8601 with a time zone).",
        examples=_TIME_EXAMPLE,
    ),
]
ToParam = Annotated[
    datetime | None,
    QueryParameter(
        description="Orders created before this time (ISO 8601 with a time zone).",
        examples=_TIME_EXAMPLE,
    ),
]
MinPriceParam = Annotated[
    str | None,
    QueryParameter(
        description="Orders whose `price_fiat` is at least this decimal.",
        examples=[Example(value="10.00")],
        **_AMOUNT,
    ),
]
MaxPriceParam = Annotated[
    str | None,
    QueryParameter(
        description="Orders whose `price_fiat` is at most this decimal.",
        examples=[Example(value="100.00")],
        **_AMOUNT,
    ),
]
ParkedParam = Annotated[
    bool,
    QueryParameter(description="`true`: only parked orders (retries exhausted).", required=False),
]
RefundParam = Annotated[
    RefundStatus | None,
    QueryParameter(
        description="Only orders whose refund is in this status (docs/refunds.md).",
        required=False,
    ),
]
SortParam = Annotated[
    SortField, QueryParameter(description="The sort key (default `created_at`).", required=False)
]
DirectionParam = Annotated[
    SortDirection,
    QueryParameter(description="The sort direction (default `desc`).", required=False),
]
CursorParam = Annotated[
    str | None,
    QueryParameter(
        description="`next_cursor` of the previous page (same filters and sort).",
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
    ),
]
LimitParam = Annotated[
    int,
    QueryParameter(
        description=f"Orders per page (default {DEFAULT_PAGE_SIZE}).",
        ge=1,
        le=MAX_PAGE_SIZE,
        required=False,
    ),
]
#: The parameters of ``GET /api/admin/orders``; any other name is refused.
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
        "refund",
        "sort",
        "direction",
        "cursor",
        "limit",
    }
)


def check_parameter_names(request: Request[Any, Any, Any]) -> None:
    """Unknown names (a misspelt filter must not silently list everything) and a single-valued
    parameter given twice are refused."""
    params = request.query_params
    for name in params:
        if name not in LIST_PARAMETERS:
            raise InvalidQuery(name, "is not a parameter of this endpoint")
        if name != "status" and len(params.getall(name, [])) > 1:
            raise InvalidQuery(name, "is given more than once")


def statuses_of(values: list[str] | None) -> frozenset[OrderStatus]:
    found: set[OrderStatus] = set()
    for raw in values or []:
        for part in raw.split(","):
            name = part.strip()
            try:
                found.add(OrderStatus(name))
            except ValueError:
                raise InvalidQuery(
                    "status", f"unknown status {name!r}; one of {_STATUSES}"
                ) from None
    return frozenset(found)


def _utc(name: str, moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidQuery(name, "must carry a timezone, e.g. 2026-03-01T00:00:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidQuery(name, "is out of range") from None


def _amount(value: str | None) -> Decimal | None:
    # The declared pattern guarantees Decimal() parses it exactly.
    return None if value is None else Decimal(value)


def invalid_query(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """A parameter Litestar refused (``ValidationException``) or one ``search_filters`` did
    (``InvalidQuery``): a 400 ``invalid_parameter`` naming each."""
    if isinstance(exc, InvalidQuery):
        errors = [FieldError(field=exc.parameter, message=exc.message)]
        return problem(400, "invalid_parameter", str(exc), errors=errors)
    assert isinstance(exc, ValidationException)
    errors = field_errors(exc)
    where = ", ".join(e.field for e in errors) or "a parameter"
    return problem(400, "invalid_parameter", f"invalid {where}", errors=errors or None)


# --- answers -----------------------------------------------------------------------------------


DeliveryState = Literal["delivered", "pending", "failing", "gone", "dead"]


class DeliveryView(msgspec.Struct, frozen=True):
    """Where one subscriber is with one event."""

    subscriber: Annotated[str, said("The subscriber.", "merchant_webhook")]
    state: Annotated[
        DeliveryState,
        said(
            "`delivered` (acknowledged), `pending` (not sent yet: events go in sequence), "
            "`failing` (tried, to be tried again), `gone` (refused with 410, skipped) or `dead` "
            "(failed for the whole retry window, given up).",
            "delivered",
        ),
    ]
    attempts: Annotated[int, said("Failed attempts so far (`failing` only).", 0)]
    last_error: Annotated[str | None, said("The last failure (`failing` only).", "HTTP 503")]
    next_attempt_at: Annotated[
        str | None, when("When it is tried again (`failing` only).", "2026-03-01T12:05:00.000Z")
    ]


class AdminEventView(msgspec.Struct, frozen=True):
    """One event of an order and its delivery to each subscriber."""

    id: Annotated[str, said("The event id: `<order id>:<sequence>`.", "o-1:2")]
    type: Annotated[str, said("What happened.", "order.paid")]
    order_id: Annotated[str, said("The order.", ORDER_ID_EXAMPLE)]
    sequence: Annotated[int, said("1, 2, 3 … per order, with no gaps.", 2)]
    created_at: Annotated[str, when("When it happened.", "2026-03-01T12:01:00.123Z")]
    data: Annotated[
        dict[str, str | int | bool | None],
        said("The event's payload (docs/events.md).", {"status": "completed_pay"}),
    ]
    deliveries: Annotated[
        list[DeliveryView], said("Each configured (or past) subscriber's delivery of it.")
    ]

    @classmethod
    def of(cls, event: OrderEvent, deliveries: list[Delivery]) -> AdminEventView:
        base = EventView.of(event)
        return cls(
            id=base.id,
            type=base.type.value,
            order_id=base.order_id,
            sequence=base.sequence,
            created_at=base.created_at,
            data=base.data,
            deliveries=[_delivery_of(event.sequence, d) for d in deliveries],
        )


def _delivery_of(sequence: int, state: Delivery) -> DeliveryView:
    failing = sequence == state.delivered + 1 and state.attempts > 0
    name: DeliveryState
    if sequence in state.dead:
        name = "dead"
    elif sequence in state.gone:
        name = "gone"
    elif sequence <= state.delivered:
        name = "delivered"
    else:
        name = "failing" if failing else "pending"
    return DeliveryView(
        subscriber=state.subscriber,
        state=name,
        attempts=state.attempts if failing else 0,
        last_error=state.last_error if failing else None,
        next_attempt_at=ms_text_or_none(state.due_at) if failing else None,
    )


def _events_view(found: OrderDeliveries) -> list[AdminEventView]:
    return [AdminEventView.of(e, found.deliveries) for e in found.order.events]


class OrderSummary(msgspec.Struct, frozen=True):
    """One line of the admin listing."""

    id: Annotated[str, said("The order id.", ORDER_ID_EXAMPLE)]
    reference_id: Annotated[str, said("The caller's idempotency key of the create.", "ref-1")]
    status: Annotated[OrderStatus, said("Where the order is.", "completed")]
    pool_id: Annotated[str, said("The liquidity pool.", "pool-1")]
    token_symbol: Annotated[str, said("The token bought.", "USDC")]
    amount_token: Annotated[str, said("Tokens bought, a decimal string.", "12.50")]
    fiat_currency: Annotated[str, said("The currency paid in, ISO 4217.", "EUR")]
    price_fiat: Annotated[str, said("The price paid, a decimal string.", "13.10")]
    payment_id: Annotated[str, said("The gateway's payment id.", "pay_000001")]
    smart_wallet_address: Annotated[
        str | None, said("The buyer's smart wallet, once known.", "wallet_0x01")
    ]
    parked: Annotated[bool, said("True: retries are exhausted; retry it by hand.", False)]
    parked_reason: Annotated[
        str | None, said("Why it was parked.", "wallet_service: 8 attempts failed")
    ]
    last_error: Annotated[str | None, said("The last failure of a step.", "timeout")]
    next_attempt_at: Annotated[
        str | None, when("When the worker tries again.", "2026-03-01T12:05:00.000Z")
    ]
    created_at: Annotated[str, when("When it was created.", "2026-03-01T12:00:00.000Z")]
    updated_at: Annotated[str, when("When it last changed.", "2026-03-01T12:01:00.000Z")]
    refund: Annotated[RefundView | None, said("The order's refund, if any.")] = None

    @classmethod
    def of(cls, order: Order) -> OrderSummary:
        return cls(
            id=order.id,
            reference_id=order.reference_id,
            status=order.status,
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
            next_attempt_at=ms_text_or_none(order.next_attempt_at),
            created_at=ms_text(order.created_at),
            updated_at=ms_text(order.updated_at),
            refund=RefundView.of_order(order),
        )


class OrderListing(msgspec.Struct, frozen=True):
    """A page of orders; pass ``next_cursor`` as ``cursor`` (same filters and sort) for the next
    page. ``next_cursor`` null: this is the last page."""

    orders: Annotated[list[OrderSummary], said("This page's orders, in the sort order.")]
    next_cursor: Annotated[
        str | None, said("The next page's `cursor`; null on the last page.", "eyJ2IjoxfQ")
    ]
    limit: Annotated[int, said("The page size asked for.", DEFAULT_PAGE_SIZE)]
    sort: Annotated[str, said("The sort applied: `<field>:<direction>`.", "created_at:desc")]


#: ``application.receive_webhook.WebhookOutcome``'s values, spelled out for the API document
#: (tests/unit/test_receive_webhook.py keeps the two equal).
RecordedOutcome = Literal[
    "received", "accepted", "ignored", "unknown_payment", "queue_unavailable", "failed"
]


class WebhookEventView(msgspec.Struct, frozen=True):
    """One webhook event received for the order's payment."""

    event_id: Annotated[str, said("The event's id.", "evt_000001")]
    received_at: Annotated[str, when("When it arrived.", "2026-03-01T12:01:00.000Z")]
    outcome: Annotated[RecordedOutcome, said("What became of it.", "accepted")]
    payload: Annotated[str, said("The raw body as received.", '{"id": "evt_000001"}')]


class HistoryView(msgspec.Struct, frozen=True):
    """The order (with its status history, attempts and last error) and its payment's webhook
    events, oldest first."""

    order: Annotated[OrderView, said("The order, with its status history.")]
    attempts: Annotated[
        dict[str, int], said("Attempts made per step.", {"create_wallet": 1, "send_token": 1})
    ]
    parked_reason: Annotated[str | None, said("Why it was parked, if it is.")]
    next_attempt_at: Annotated[
        str | None, when("When the worker tries again.", "2026-03-01T12:05:00.000Z")
    ]
    webhook_events: Annotated[
        list[WebhookEventView], said("The payment's webhook events, oldest first.")
    ]


class MonthView(msgspec.Struct, frozen=True):
    """The orders of one month in one currency."""

    month: Annotated[str, said("The month, `YYYY-MM` (UTC).", "2026-03")]
    currency: Annotated[str, said("The fiat currency, ISO 4217.", "EUR")]
    orders: Annotated[int, said("Orders created.", 12)]
    paid_orders: Annotated[int, said("Of which paid.", 10)]
    paid_volume: Annotated[str, said("Fiat paid, a decimal string.", "131.00")]


class OldestView(msgspec.Struct, frozen=True):
    """The oldest order still in one non-terminal status."""

    order_id: Annotated[str, said("The order id.", ORDER_ID_EXAMPLE)]
    reference_id: Annotated[str, said("Its reference id.", "ref-1")]
    created_at: Annotated[str, when("When it was created.", "2026-03-01T12:00:00.000Z")]
    age_seconds: Annotated[str, said("Its age in seconds, a decimal string.", "42.5")]


class StatsView(msgspec.Struct, frozen=True):
    """Rates are fractions (``"0.9500"``), times in seconds, amounts decimal strings; null when
    there is nothing to compute them from."""

    at: Annotated[
        str, when("The time of this answer (ages are counted to it).", "2026-03-01T12:00:30.000Z")
    ]
    as_of: Annotated[
        str,
        when(
            "When the figures were computed: they are cached and refreshed in the background, "
            "at most `ADMIN_STATS_REFRESH_SECONDS` old while the API is in use.",
            "2026-03-01T12:00:00.000Z",
        ),
    ]
    total: Annotated[int, said("Orders in all.", 120)]
    by_status: Annotated[dict[str, int], said("Orders per status.", {"completed": 100})]
    parked: Annotated[int, said("Parked orders.", 2)]
    months: Annotated[list[MonthView], said("Per month and currency.")]
    payment_success_rate: Annotated[
        str | None, said("Paid / decided (paid or failed), a fraction.", "0.9500")
    ]
    completion_rate: Annotated[str | None, said("Completed / paid, a fraction.", "0.9900")]
    paid_to_completed_avg_seconds: Annotated[
        str | None, said("Average seconds from paid to completed.", "3.2")
    ]
    paid_to_completed_p95_seconds: Annotated[
        str | None, said("95th percentile (nearest rank) of the same.", "7.9")
    ]
    oldest_open: Annotated[
        dict[str, OldestView], said("The oldest order of each non-terminal status.")
    ]

    @classmethod
    def of(cls, stats: Stats) -> StatsView:
        def text(value: Decimal | None) -> str | None:
            return None if value is None else f"{value:f}"

        return cls(
            at=ms_text(stats.at),
            as_of=ms_text(stats.as_of),
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
                    created_at=ms_text(o.created_at),
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
    operation_id="listAdminOrders",
    operation_class=ApiOperation,
    summary="Search orders",
    description=(
        f"{_AUTH} Filters (all optional) are combined with AND. A page of orders in the sort "
        "order; pass `next_cursor` as `cursor` for the next page. An unknown or repeated "
        "parameter is a 400 naming it."
    ),
    responses=problem_responses(400, 401, 429, 503),
)
async def search_orders(
    request: Request[Any, Any, Any],
    search: NamedDependency[SearchOrders],
    status: StatusParam = None,
    pool_id: PoolParam = None,
    token_symbol: SymbolParam = None,
    fiat_currency: CurrencyParam = None,
    created_from: FromParam = None,
    created_to: ToParam = None,
    min_price_fiat: MinPriceParam = None,
    max_price_fiat: MaxPriceParam = None,
    parked: ParkedParam = False,
    refund: RefundParam = None,
    sort: SortParam = SortField.CREATED_AT,
    direction: DirectionParam = SortDirection.DESC,
    cursor: CursorParam = None,
    limit: LimitParam = DEFAULT_PAGE_SIZE,
) -> OrderListing:
    check_parameter_names(request)
    if fiat_currency is not None and (words := grammar.currency_problem(fiat_currency)):
        raise InvalidQuery("fiat_currency", words)
    filters = OrderFilters(
        statuses=statuses_of(status),
        pool_id=pool_id,
        token_symbol=token_symbol,
        fiat_currency=fiat_currency,
        created_from=_utc("created_from", created_from),
        created_to=_utc("created_to", created_to),
        min_price_fiat=_amount(min_price_fiat),
        max_price_fiat=_amount(max_price_fiat),
        parked_only=parked,
        refund_status=refund,
    )
    order = OrderSort(sort, direction)
    result = await search.execute(filters, order, cursor=cursor, limit=limit)
    return OrderListing(
        orders=[OrderSummary.of(o) for o in result.orders],
        next_cursor=result.next_cursor,
        limit=limit,
        sort=order.tag,
    )


@get(
    "/orders/{order_id:str}/history",
    operation_id="getAdminOrderHistory",
    operation_class=ApiOperation,
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
        next_attempt_at=ms_text_or_none(order.next_attempt_at),
        webhook_events=[
            WebhookEventView(
                event_id=e.event_id,
                received_at=ms_text(e.received_at),
                outcome=cast(RecordedOutcome, e.outcome),
                payload=e.raw_payload.decode("utf-8", errors="replace"),
            )
            for e in found.webhook_events
        ],
    )


@get(
    "/stats",
    operation_id="getAdminStats",
    operation_class=ApiOperation,
    summary="Figures of the whole order book",
    description=(
        f"{_AUTH} Counts per status, orders and paid fiat volume per month and currency, payment "
        "success rate (paid / decided), completion rate (completed / paid), average and p95 "
        "(nearest rank) time from completed_pay to completed, parked orders, and the oldest "
        "order of each non-terminal status. The figures are cached and refreshed in the "
        "background: `as_of` says when they were computed."
    ),
    responses=problem_responses(400, 401, 429, 503),
)
async def order_stats(stats: NamedDependency[CurrentOrderStats]) -> StatsView:
    return StatsView.of(await stats.execute())


class StatusTimesView(msgspec.Struct, frozen=True):
    """Stays in one status that began in the period and ended: count and percentiles."""

    count: Annotated[int, said("Stays counted.", 40)]
    p50_seconds: Annotated[str, said("Median length in seconds, a decimal string.", "1.250")]
    p95_seconds: Annotated[str, said("95th percentile (nearest rank), seconds.", "7.900")]


class PeriodStatsView(msgspec.Struct, frozen=True, rename={"from_": "from"}):
    """The period ``[from, to)`` from the orders' histories (docs/refunds.md, docs/api.md)."""

    from_: Annotated[str, when("Start of the period (included).", "2026-03-01T00:00:00.000Z")]
    to: Annotated[str, when("End of the period (excluded).", "2026-03-02T00:00:00.000Z")]
    orders: Annotated[int, said("Orders read: created before `to`, changed since `from`.", 120)]
    truncated: Annotated[
        bool, said("True: more orders than one answer reads; narrow the period.", False)
    ]
    time_in_status: Annotated[
        dict[str, StatusTimesView],
        said("Per status: stays that began in the period and have ended."),
    ]
    refunds: Annotated[
        dict[str, int],
        said("Refunds requested in the period, by their status now.", {"succeeded": 3}),
    ]
    refunded: Annotated[
        dict[str, str],
        said("Money refunded (succeeded) per currency, decimal strings.", {"EUR": "39.30"}),
    ]

    @classmethod
    def of(cls, stats: PeriodStats) -> PeriodStatsView:
        def seconds(ms: int) -> str:
            return f"{Decimal(ms) / 1000:.3f}"

        return cls(
            from_=ms_text(stats.start),
            to=ms_text(stats.end),
            orders=stats.orders,
            truncated=stats.truncated,
            time_in_status={
                s.value: StatusTimesView(t.count, seconds(t.p50_ms), seconds(t.p95_ms))
                for s, t in stats.time_in_status.items()
            },
            refunds={s.value: n for s, n in stats.refunds.items()},
            refunded={c: f"{v:f}" for c, v in stats.refunded.items()},
        )


PeriodStartParam = Annotated[
    datetime,
    QueryParameter(
        name="from",
        description="Start of the period, included (ISO 8601 with a time zone).",
        examples=_TIME_EXAMPLE,
    ),
]
PeriodEndParam = Annotated[
    datetime,
    QueryParameter(
        name="to",
        description="End of the period, excluded (ISO 8601 with a time zone).",
        examples=_TIME_EXAMPLE,
    ),
]


@get(
    "/stats/period",
    operation_id="getAdminPeriodStats",
    operation_class=ApiOperation,
    summary="Time in each status and refunds over a period",
    description=(
        f"{_AUTH} From the orders' histories: per status, how long the stays that began in "
        "`[from, to)` lasted (p50, p95); the refunds requested in the period by status and "
        "the money refunded per currency. Not cached: each call reads the period's orders."
    ),
    responses=problem_responses(400, 401, 429, 503),
)
async def period_stats(
    period: NamedDependency[PeriodOrderStats],
    start: PeriodStartParam,
    end: PeriodEndParam,
) -> PeriodStatsView:
    return PeriodStatsView.of(await period.execute(start, end))


@post(
    "/orders/{order_id:str}/retry",
    operation_id="retryAdminOrder",
    operation_class=ApiOperation,
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
    except (OrderNotFound, OrderFinished):
        OPERATOR_RETRIES.labels("refused").inc()
        raise
    OPERATOR_RETRIES.labels("scheduled").inc()
    bind_order(order.id, order.reference_id)
    return OrderSummary.of(order)


@post(
    "/orders/{order_id:str}/refund",
    operation_id="refundAdminOrder",
    operation_class=ApiOperation,
    status_code=200,
    summary="Refund a parked order",
    description=(
        f"{_AUTH} Ends a parked order's fulfilment for good and refunds the price paid, under "
        "the key `<order id>:refund` (docs/refunds.md). Every transfer key of the order is "
        "looked up first: a transfer that is not `failed` (the tokens moved, or may) is a 409, "
        "as is an order not parked or already refunded otherwise. The same call again answers "
        "the order as it is. The worker makes the gateway call."
    ),
    before_request=require_json_body,
    opt={JSON_BODY: OperatorReasonBody, BODY_PROBLEMS: operator_reason_problems},
    responses=problem_responses(400, 401, 404, 409, 413, 415, 429, 502, 503, 504),
)
async def refund_order(
    order_id: FromPath[OrderId],
    data: JSONBody[OperatorReasonBody],
    refunder: NamedDependency[RefundOrder],
) -> OrderSummary:
    bind_order(order_id)
    try:
        order = await refunder.execute(order_id, data.reason)
    except (OrderNotFound, RefundConflict):
        OPERATOR_REFUNDS.labels("refused").inc()
        raise
    OPERATOR_REFUNDS.labels("requested").inc()
    bind_order(order.id, order.reference_id)
    return OrderSummary.of(order)


@post(
    "/orders/{order_id:str}/retry-transfer",
    operation_id="retryAdminOrderTransfer",
    operation_class=ApiOperation,
    status_code=200,
    summary="Send a parked order's tokens again, under a new key",
    description=(
        f"{_AUTH} Only for an order parked in `send_token_to_smartwallet_fail` whose transfer "
        "a lookup confirms `failed` (never while it may still land): the tokens go again under "
        "`<order id>:send_token:<n>`, and the history says why. 409 otherwise (no transfer "
        "under the key: use `retry`, the same key is safe), and for an order with a refund."
    ),
    before_request=require_json_body,
    opt={JSON_BODY: OperatorReasonBody, BODY_PROBLEMS: operator_reason_problems},
    responses=problem_responses(400, 401, 404, 409, 413, 415, 429, 502, 503, 504),
)
async def retry_transfer(
    order_id: FromPath[OrderId],
    data: JSONBody[OperatorReasonBody],
    resend: NamedDependency[RetryTransfer],
) -> OrderSummary:
    bind_order(order_id)
    try:
        order = await resend.execute(order_id, data.reason)
    except (OrderNotFound, RefundConflict):
        OPERATOR_RESENDS.labels("refused").inc()
        raise
    OPERATOR_RESENDS.labels("scheduled").inc()
    bind_order(order.id, order.reference_id)
    return OrderSummary.of(order)


@get(
    "/orders/{order_id:str}/events",
    operation_id="getAdminOrderEvents",
    operation_class=ApiOperation,
    summary="An order's stored events and their delivery to each subscriber",
    description=_AUTH
    + " Oldest first; each with its delivery state per subscriber (docs/events.md).",
    responses=problem_responses(400, 401, 404, 429, 503),
)
async def order_events(
    order_id: FromPath[OrderId], deliveries: NamedDependency[ReadDeliveries]
) -> list[AdminEventView]:
    bind_order(order_id)
    return _events_view(await deliveries.execute(order_id))


_REDELIVER = (
    " The relay then sends the events again, in sequence, from that one on (delivery is at "
    "least once: subscribers dedupe on the event id). No subscriber configured: 409."
)
Subscriber = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=64,
        description="Only this subscriber (default: every configured one).",
    ),
]


@post(
    "/orders/{order_id:str}/events/redeliver",
    operation_id="redeliverAdminOrderEvents",
    operation_class=ApiOperation,
    status_code=200,
    summary="Deliver an order's events again",
    description=f"{_AUTH} Resets each subscriber's delivery of the order to `from_sequence`."
    + _REDELIVER,
    responses=problem_responses(400, 401, 404, 409, 429, 503),
)
async def redeliver_order_events(
    order_id: FromPath[OrderId],
    redeliver: NamedDependency[RedeliverEvents],
    from_sequence: Annotated[
        int, QueryParameter(ge=1, le=1_000_000, description="The first event sent again.")
    ] = 1,
    subscriber: Subscriber = None,
) -> list[AdminEventView]:
    bind_order(order_id)
    found = await redeliver.execute(order_id, from_sequence=from_sequence, subscriber=subscriber)
    return _events_view(found)


@post(
    "/events/{event_id:str}/redeliver",
    operation_id="redeliverAdminEvent",
    operation_class=ApiOperation,
    status_code=200,
    summary="Deliver an event (and those after it) again",
    description=f"{_AUTH} `event_id` is `<order id>:<sequence>`." + _REDELIVER,
    responses=problem_responses(400, 401, 404, 409, 429, 503),
)
async def redeliver_event(
    event_id: FromPath[
        Annotated[str, Parameter(min_length=3, max_length=140, description="The event id.")]
    ],
    redeliver: NamedDependency[RedeliverEvents],
    subscriber: Subscriber = None,
) -> list[AdminEventView]:
    order_id, _, sequence = event_id.rpartition(":")
    if not order_id or not (sequence.isascii() and sequence.isdigit()) or len(sequence) > 7:
        raise InvalidQuery("event_id", "must be <order id>:<sequence>")
    bind_order(order_id)
    found = await redeliver.execute(order_id, from_sequence=int(sequence), subscriber=subscriber)
    return _events_view(found)


# --- wiring ------------------------------------------------------------------------------------


#: Registered on the app with the others (entrypoints/api/dependencies.py).
ADMIN_DEPENDENCIES = {
    "search": FromContainer("search_orders", SearchOrders),
    "stats": FromContainer("current_order_stats", CurrentOrderStats),
    "history": FromContainer("get_order_history", GetOrderHistory),
    "retry": FromContainer("retry_order_now", RetryOrderNow),
    "deliveries": FromContainer("read_deliveries", ReadDeliveries),
    "redeliver": FromContainer("redeliver_events", RedeliverEvents),
    "refunder": FromContainer("refund_order", RefundOrder),
    "period": FromContainer("period_stats", PeriodOrderStats),
    "resend": FromContainer("retry_transfer", RetryTransfer),
}

admin_router = Router(
    path="/api/admin",
    route_handlers=[
        search_orders,
        order_history,
        order_events,
        redeliver_order_events,
        redeliver_event,
        order_stats,
        retry_order,
        order_stats,
        period_stats,
        retry_order,
        refund_order,
        retry_transfer,
    ],
    guards=[require_admin],
    tags=["admin"],
    exception_handlers={InvalidQuery: invalid_query, ValidationException: invalid_query},
    security=[{"AdminToken": []}],
)
