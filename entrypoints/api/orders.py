"""``/api/orders``: a buyer creates an order (idempotent on ``reference_id``), reads it back,
lists their orders and cancels one not yet paid. Every route first finds out who asks
(``adapters/http/buyer_tokens.py``): a buyer's token, or a guest's client secret with
``GUEST_CHECKOUT``; another buyer's order answers 404, as a missing one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import (
    FromPath,
    HeaderParameter,
    JSONBody,
    PathParameter,
    QueryParameter,
)
from litestar.response import ServerSentEvent, ServerSentEventMessage

from adapters.http.buyer_tokens import CLIENT_SECRET_HEADER, BuyerAuthenticator, TokenRequired
from application.buyers import Caller
from application.cancel_order import CancelOrder
from application.create_order import CreateOrder
from application.errors import InvalidQuery
from application.list_own_orders import ListOwnOrders
from application.ports.order_queries import DEFAULT_PAGE_SIZE
from application.read_own_order import ReadOwnOrder
from application.watch_events import DROPPED, EventStreams, Watch
from domain import Order, OrderEvent
from domain.errors import InvalidOrder
from entrypoints.api.admin import (
    CursorParam,
    FromParam,
    LimitParam,
    StatusParam,
    ToParam,
    check_time_texts,
    statuses_of,
    utc_of,
)
from entrypoints.api.bodies import BODY_PROBLEMS, JSON_BODY
from entrypoints.api.buyer_identity import buyer_of
from entrypoints.api.dependencies import objects_of
from entrypoints.api.guards import require_json_body
from entrypoints.api.openapi import ApiOperation
from entrypoints.api.problems import problem_responses
from entrypoints.api.schemas import (
    CreateOrderBody,
    EventView,
    OrderView,
    create_order_problems,
    said,
)
from entrypoints.log_config import bind_order
from entrypoints.settings import Settings, origin_of

REPLAYED_HEADER = "Idempotent-Replayed"
ORDERS_PATH = "/api/orders"
JSON = "application/json"
EVENT_STREAM = "text/event-stream"
#: What ``GET /api/orders/{id}/events`` answers: the list (the default), or the live stream.
EVENT_MEDIA_TYPES = [JSON, EVENT_STREAM]
LAST_EVENT_ID = "Last-Event-ID"


class NotAcceptable(HTTPException):
    """The caller's ``Accept`` allows none of the media types the route answers with: 406."""

    status_code = 406


def event_media_type(request: Request[Any, Any, Any]) -> str:
    """JSON unless the caller prefers the live stream; 406 when it accepts neither (no
    ``Accept`` header accepts anything)."""
    if "accept" not in request.headers:
        return JSON
    best = request.accept.best_match(EVENT_MEDIA_TYPES)
    if best is None:
        raise NotAcceptable(f"this answers only {', '.join(EVENT_MEDIA_TYPES)}")
    return best


def last_event_id(request: Request[Any, Any, Any], order: Order) -> int:
    """The sequence a reconnecting stream resumes after (0: from the first event); 400 naming
    the header when it is not the sequence of one of the order's events."""
    raw = request.headers.get(LAST_EVENT_ID)
    if raw is None or not raw.strip():
        return 0
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) <= 9 and 1 <= int(text) <= len(order.events):
        return int(text)
    raise ValidationException(
        detail=f"invalid input: {LAST_EVENT_ID}",
        extra=[
            {
                "key": LAST_EVENT_ID,
                "message": f"must be the sequence of one of the order's events "
                f"(1..{len(order.events)})",
            }
        ],
    )


async def event_frames(
    streams: EventStreams, watch: Watch, heartbeat_seconds: float
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream's frames: each event (``id:`` its sequence, ``event:`` its type, ``data:`` the
    event as the JSON list shows it), a comment when idle, the end when the order is finished
    or the client fell too far behind."""
    try:
        while not (watch.closed and watch.queue.empty()):
            try:
                item = await asyncio.wait_for(watch.queue.get(), heartbeat_seconds)
            except TimeoutError:
                yield ServerSentEventMessage(comment="heartbeat", data=None)
                continue
            if isinstance(item, OrderEvent):
                yield ServerSentEventMessage(
                    data=_event_json.encode(EventView.of(item)).decode(),
                    event=item.type.value,
                    id=str(item.sequence),
                )
            elif item is DROPPED:
                yield ServerSentEventMessage(
                    comment="too far behind: reconnect with Last-Event-ID", data=None
                )
                return
            else:
                return
    finally:
        streams.unwatch(watch)


_event_json = msgspec.json.Encoder()


def check_return_url(return_url: str | None, settings: Settings) -> None:
    """A ``return_url`` sends the buyer's browser somewhere after paying: only to an origin the
    operator allowed (``CORS_ALLOWED_ORIGINS``), never to whatever a caller names."""
    if return_url is None:
        return
    origin = origin_of(return_url)
    if origin is None:
        raise InvalidOrder("return_url", "must be an absolute http or https URL")
    if origin not in settings.cors_allowed_origins:
        raise InvalidOrder("return_url", f"its origin {origin} is not one of CORS_ALLOWED_ORIGINS")


#: The query parameters of ``GET /api/orders``: the lookup by reference id, or the list.
FIND_PARAMETERS = frozenset({"reference_id", "client_secret"})
LIST_PARAMETERS = frozenset(
    {"status", "created_from", "created_to", "cursor", "limit", "client_secret"}
)
_CALLER = "caller"
#: A client secret is ``cs_`` and 43 characters; anything much longer is not one of ours.
MAX_CLIENT_SECRET_LENGTH = 128
_AUTH = (
    "Needs `Authorization: Bearer <buyer token>`; with `GUEST_CHECKOUT`, a guest's order is read "
    "with its `client_secret` instead (`?client_secret=` or `X-Client-Secret`). Another buyer's "
    "order answers 404."
)


async def authenticate(request: Request[Any, Any, Any]) -> None:
    """Who asks (a 401 for a missing or invalid token, before anything else is read), kept on
    the request for its handler."""
    authenticator: BuyerAuthenticator = objects_of(request.app.state).get("buyer_authenticator")
    from_header = request.headers.get(CLIENT_SECRET_HEADER)
    from_query = request.query_params.get("client_secret")
    # Checked here, before anything else reads them (a layered parameter's bounds are the
    # document's, not checked by Litestar).
    for name, value in (("X-Client-Secret", from_header), ("client_secret", from_query)):
        if value is not None and len(value) > MAX_CLIENT_SECRET_LENGTH:
            raise InvalidQuery(name, f"must be at most {MAX_CLIENT_SECRET_LENGTH} characters")
    secret = from_header or from_query
    # The rate limiter may have verified the token already (buyer_identity.py): not again.
    request.state[_CALLER] = await authenticator.caller(
        request.headers.get("authorization"),
        secret,
        buyer_of=lambda authorization: buyer_of(request.scope, authenticator, authorization),
    )


async def authenticate_json_body(request: Request[Any, Any, Any]) -> None:
    """A create's gate: who asks (401), then the body's media type and shape (415, 400)."""
    await authenticate(request)
    await require_json_body(request)


def caller_of(request: Request[Any, Any, Any]) -> Caller:
    caller: Caller = request.state[_CALLER]
    return caller


def check_names(request: Request[Any, Any, Any], allowed: frozenset[str]) -> None:
    """An unknown or repeated parameter is a 400 naming it (a misspelt filter must not silently
    list everything)."""
    params = request.query_params
    for name in params:
        if name not in allowed:
            raise InvalidQuery(name, "is not a parameter of this endpoint")
        if name != "status" and len(params.getall(name, [])) > 1:
            raise InvalidQuery(name, "is given more than once")


class MyOrders(msgspec.Struct, frozen=True):
    """A page of the caller's orders, newest first; pass ``next_cursor`` as ``cursor`` (same
    filters) for the next page, null on the last."""

    orders: Annotated[list[OrderView], said("This page's orders, newest first.")]
    next_cursor: Annotated[
        str | None, said("The next page's `cursor`; null on the last page.", "eyJ2IjoxfQ")
    ]
    limit: Annotated[int, said("The page size asked for.", 50)]


class OrdersController(Controller):
    """The buyer's side of the service."""

    path = ORDERS_PATH
    tags = ["orders"]
    # Litestar un-binds a hook set on a controller class (Controller.__init__).
    before_request = authenticate  # type: ignore[assignment]
    security = [{"BuyerToken": []}]
    # Declared for the document (and checked); ``authenticate`` reads them from the request.
    parameters = {
        "client_secret": QueryParameter(
            annotation=str,
            name="client_secret",
            required=False,
            max_length=MAX_CLIENT_SECRET_LENGTH,
            description="A guest's order (`GUEST_CHECKOUT`): the `client_secret` of its create.",
        ),
        "x_client_secret": HeaderParameter(
            annotation=str,
            name="X-Client-Secret",
            required=False,
            max_length=MAX_CLIENT_SECRET_LENGTH,
            description="The same, as a header (kept out of URLs and their logs).",
        ),
    }

    @post(
        "/",
        operation_id="createOrder",
        operation_class=ApiOperation,
        status_code=201,
        summary="Create an order and its gateway payment",
        description=(
            "Creates the payment at the gateway, then stores the order, owned by the token's "
            "buyer. Idempotent on `reference_id`: the same body again from the same buyer "
            f"answers 201 with the same order (as it is now) and `{REPLAYED_HEADER}: true`, "
            "without a second payment; a different body under the same `reference_id` is a 409, "
            "and so is a `reference_id` another buyer's order holds (`reference_id_taken`, which "
            "says nothing of that order). A gateway failure (502) or timeout (504) leaves "
            "nothing stored; retry with the same body. With `GUEST_CHECKOUT`, a create without a "
            "token makes a guest's order: its first answer carries the one-time `client_secret` "
            "that every later read (and a replay) must show."
        ),
        before_request=authenticate_json_body,
        opt={JSON_BODY: CreateOrderBody, BODY_PROBLEMS: create_order_problems},
        response_headers=[
            ResponseHeader(
                name="Location",
                description="The order's URL: `/api/orders/{id}` (relative to the API's base).",
                documentation_only=True,
                required=True,
            ),
            ResponseHeader(
                name=REPLAYED_HEADER,
                description="`true` when this answer replays an order created before.",
                documentation_only=True,
                required=False,
            ),
        ],
        responses=problem_responses(400, 401, 409, 413, 415, 422, 429, 502, 503, 504),
    )
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[CreateOrderBody],
        create_order: NamedDependency[CreateOrder],
    ) -> Response[OrderView]:
        bind_order(reference_id=data.reference_id)  # on this request's later log lines
        order_request = data.to_order_request()
        if order_request.return_url is not None:
            # Looked up only when needed: a second dependency of the handler would have Litestar
            # resolve both in a task group on every create (docs/benchmarks.md).
            settings: Settings = objects_of(request.app.state).get("settings")
            check_return_url(order_request.return_url, settings)
        result = await create_order.execute(order_request, caller_of(request))
        order_id = result.order.id
        bind_order(order_id=order_id)
        headers = {"Location": f"{ORDERS_PATH}/{order_id}"}
        if result.replayed:
            headers[REPLAYED_HEADER] = "true"
        view = OrderView.of(result.order, client_secret=result.client_secret)
        return Response(view, status_code=201, headers=headers)

    @get(
        "/",
        operation_id="findOrder",
        operation_class=ApiOperation,
        summary="Find an order by its reference id, or list the caller's orders",
        description=(
            f"{_AUTH} With `reference_id`: that order (`OrderView`). Without: the caller's "
            "orders, newest first, a page at a time (`MyOrders`; a buyer's token is needed), "
            "filtered by `status` and creation time like the admin search. An unknown or "
            "repeated parameter is a 400 naming it."
        ),
        responses=problem_responses(400, 401, 404, 429, 503),
    )
    async def find(
        self,
        *,
        request: Request[Any, Any, Any],
        read_own_order: NamedDependency[ReadOwnOrder],
        list_own_orders: NamedDependency[ListOwnOrders],
        reference_id: Annotated[
            str | None,
            QueryParameter(
                min_length=1,
                max_length=128,
                description="The `reference_id` the order was created with (the lookup).",
            ),
        ] = None,
        status: StatusParam = None,
        created_from: FromParam = None,
        created_to: ToParam = None,
        cursor: CursorParam = None,
        limit: LimitParam = DEFAULT_PAGE_SIZE,
    ) -> OrderView | MyOrders:
        caller = caller_of(request)
        if reference_id is not None:
            check_names(request, FIND_PARAMETERS)
            return OrderView.of(await read_own_order.by_reference_id(reference_id, caller))
        check_names(request, LIST_PARAMETERS)
        check_time_texts(request)
        if caller.buyer_id is None:
            raise TokenRequired("listing orders needs Authorization: Bearer <buyer token>")
        page = await list_own_orders.execute(
            caller,
            statuses=statuses_of(status),
            created_from=utc_of("created_from", created_from),
            created_to=utc_of("created_to", created_to),
            cursor=cursor,
            limit=limit,
        )
        return MyOrders(
            orders=[OrderView.of(o) for o in page.orders],
            next_cursor=page.next_cursor,
            limit=limit,
        )

    @get(
        "/{order_id:str}",
        operation_id="getOrder",
        operation_class=ApiOperation,
        summary="Read an order by its id",
        description=_AUTH,
        responses=problem_responses(400, 401, 404, 429, 503),
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[
            Annotated[str, PathParameter(min_length=1, max_length=128, description="The order id.")]
        ],
        read_own_order: NamedDependency[ReadOwnOrder],
    ) -> OrderView:
        return OrderView.of(await read_own_order.by_id(order_id, caller_of(request)))

    @get(
        "/{order_id:str}/events",
        operation_id="getOrderEvents",
        operation_class=ApiOperation,
        summary="An order's events, oldest first, as a list or a live stream",
        description=(
            f"{_AUTH} Every stored event of the order (`order.created` … `order.completed`), "
            "sequence 1, 2, 3 … with no gaps (docs/events.md). `Accept: application/json` (or "
            "none): the list. `Accept: text/event-stream`: Server-Sent Events, each with `id:` "
            "its sequence and `event:` its type, first the stored ones (those after `Last-Event-"
            "ID` on a reconnect), then new ones as they are stored, a comment every "
            "ORDER_EVENTS_STREAM_HEARTBEAT_SECONDS while idle; the stream ends once the order is "
            "finished. A `Last-Event-ID` that is not one of the order's sequences: 400. An "
            "`Accept` that excludes both: 406."
        ),
        responses=problem_responses(400, 401, 404, 406, 429, 503),
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[
            Annotated[str, PathParameter(min_length=1, max_length=128, description="The order id.")]
        ],
        read_own_order: NamedDependency[ReadOwnOrder],
    ) -> Response[list[EventView]]:
        media_type = event_media_type(request)
        # Only the caller's order: another buyer's is a 404, as a missing one (stream or list).
        order = await read_own_order.by_id(order_id, caller_of(request))
        if media_type == JSON:
            return Response([EventView.of(e) for e in order.events])
        after = last_event_id(request, order)
        # Looked up only for a stream (see ``create``: a second dependency costs every call).
        objects = objects_of(request.app.state)
        streams: EventStreams = objects.get("event_streams")
        settings: Settings = objects.get("settings")
        watch = streams.watch(order, after)
        stream = ServerSentEvent(
            event_frames(streams, watch, settings.order_events_stream_heartbeat_seconds),
            # No proxy may hold the frames back to buffer them.
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        # A stream is a Response too; the annotation documents the JSON answer.
        return cast(Response[list[EventView]], stream)

    @post(
        "/{order_id:str}/cancel",
        operation_id="cancelOrder",
        operation_class=ApiOperation,
        status_code=200,
        summary="Cancel an order not yet paid",
        description=(
            f"{_AUTH} For a `pending` order: cancels its payment at the gateway and answers the "
            'order, `failed_pay` ("cancelled by the buyer"). If the payment completed first, '
            "the cancel is a 409 `not_cancellable` and the order goes on to be fulfilled; any "
            "other status is a 409 naming it. Cancelling again what is cancelled is a 409 too."
        ),
        responses=problem_responses(400, 401, 404, 409, 429, 502, 503, 504),
    )
    async def cancel(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[
            Annotated[str, PathParameter(min_length=1, max_length=128, description="The order id.")]
        ],
        cancel_order: NamedDependency[CancelOrder],
    ) -> OrderView:
        bind_order(order_id=order_id)
        return OrderView.of(await cancel_order.execute(order_id, caller_of(request)))
