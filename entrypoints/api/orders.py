"""``/api/orders``: create an order (idempotent on ``reference_id``) and read it back."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from application.create_order import CreateOrder
from application.get_order import GetOrder
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
#: What ``GET /api/orders/{id}/events`` can answer: the list. The live stream
#: (``text/event-stream``) is not served yet (docs/events.md).
EVENT_MEDIA_TYPES = ["application/json"]


class NotAcceptable(HTTPException):
    """The caller's ``Accept`` allows none of the media types the route answers with: 406."""

    status_code = 406


def check_accept(request: Request[Any, Any, Any]) -> None:
    """406 unless the caller accepts JSON (no ``Accept`` header accepts anything)."""
    if "accept" in request.headers and request.accept.best_match(EVENT_MEDIA_TYPES) is None:
        raise NotAcceptable(
            f"this answers only {', '.join(EVENT_MEDIA_TYPES)}; the live event stream "
            "(text/event-stream) is not served yet"
        )


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
        summary="An order's events, oldest first",
        description=(
            "Every stored event of the order (`order.created` … `order.completed`), sequence "
            "1, 2, 3 … with no gaps (docs/events.md). Answers `application/json`; an `Accept` "
            "that excludes it is a 406 (the live `text/event-stream` is not served yet)."
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
    ) -> list[EventView]:
        check_accept(request)
        return [EventView.of(e) for e in await get_order.events_of(order_id)]
