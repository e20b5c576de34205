"""``/api/orders``: create an order (idempotent on ``reference_id``) and read it back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from application.create_order import CreateOrder
from application.get_order import GetOrder
from application.watch_events import DROPPED, EventStreams, Watch
from domain import Order, OrderEvent
from domain.errors import InvalidOrder
from entrypoints.api.bodies import BODY_PROBLEMS, JSON_BODY
from entrypoints.api.dependencies import objects_of
from entrypoints.api.guards import require_json_body
from entrypoints.api.openapi import ApiOperation
from entrypoints.api.problems import problem_responses
from entrypoints.api.schemas import CreateOrderBody, EventView, OrderView, create_order_problems
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


class OrdersController(Controller):
    """The frontend's side of the service."""

    path = ORDERS_PATH
    tags = ["orders"]

    @post(
        "/",
        operation_id="createOrder",
        operation_class=ApiOperation,
        status_code=201,
        summary="Create an order and its gateway payment",
        description=(
            "Creates the payment at the gateway, then stores the order. Idempotent on "
            "`reference_id`: the same body again answers 201 with the same order (as it is now) "
            f"and `{REPLAYED_HEADER}: true`, without a second payment; a different body under "
            "the same `reference_id` is a 409. A gateway failure (502) or timeout (504) leaves "
            "nothing stored; retry with the same body."
        ),
        before_request=require_json_body,
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
        responses=problem_responses(400, 409, 413, 415, 422, 429, 502, 503, 504),
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
        result = await create_order.execute(order_request)
        order_id = result.order.id
        bind_order(order_id=order_id)
        headers = {"Location": f"{ORDERS_PATH}/{order_id}"}
        if result.replayed:
            headers[REPLAYED_HEADER] = "true"
        return Response(OrderView.of(result.order), status_code=201, headers=headers)

    @get(
        "/",
        operation_id="findOrder",
        operation_class=ApiOperation,
        summary="Find an order by its reference id",
        responses=problem_responses(400, 404, 429, 503),
    )
    async def find_by_reference_id(
        self,
        reference_id: Annotated[
            str,
            QueryParameter(
                min_length=1,
                max_length=128,
                description="The `reference_id` the order was created with.",
            ),
        ],
        get_order: NamedDependency[GetOrder],
    ) -> OrderView:
        return OrderView.of(await get_order.by_reference_id(reference_id))

    @get(
        "/{order_id:str}",
        operation_id="getOrder",
        operation_class=ApiOperation,
        summary="Read an order by its id",
        responses=problem_responses(400, 404, 429, 503),
    )
    async def read(
        self,
        order_id: FromPath[
            Annotated[str, PathParameter(min_length=1, max_length=128, description="The order id.")]
        ],
        get_order: NamedDependency[GetOrder],
    ) -> OrderView:
        return OrderView.of(await get_order.by_id(order_id))

    @get(
        "/{order_id:str}/events",
        operation_id="getOrderEvents",
        operation_class=ApiOperation,
        summary="An order's events, oldest first, as a list or a live stream",
        description=(
            "Every stored event of the order (`order.created` … `order.completed`), sequence "
            "1, 2, 3 … with no gaps (docs/events.md). `Accept: application/json` (or none): the "
            "list. `Accept: text/event-stream`: Server-Sent Events, each with `id:` its sequence "
            "and `event:` its type, first the stored ones (those after `Last-Event-ID` on a "
            "reconnect), then new ones as they are stored, a comment every "
            "ORDER_EVENTS_STREAM_HEARTBEAT_SECONDS while idle; the stream ends once the order "
            "is finished. A `Last-Event-ID` that is not one of the order's sequences: 400. An "
            "`Accept` that excludes both: 406."
        ),
        responses=problem_responses(400, 404, 406, 429, 503),
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        order_id: FromPath[
            Annotated[str, PathParameter(min_length=1, max_length=128, description="The order id.")]
        ],
        get_order: NamedDependency[GetOrder],
    ) -> Response[list[EventView]]:
        media_type = event_media_type(request)
        order = await get_order.by_id(order_id)
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
