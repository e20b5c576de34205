"""``/api/orders``: create an order (idempotent on ``reference_id``) and read it back."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.create_order import CreateOrder
from application.get_order import GetOrder
from entrypoints.api.bodies import BODY_PROBLEMS, JSON_BODY
from entrypoints.api.guards import require_json_body
from entrypoints.api.problems import problem_responses
from entrypoints.api.schemas import CreateOrderBody, OrderView, create_order_problems
from entrypoints.logging import bind_order

REPLAYED_HEADER = "Idempotent-Replayed"


class OrdersController(Controller):
    """The frontend's side of the service."""

    path = "/api/orders"
    tags = ["orders"]

    @post(
        "/",
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
                name=REPLAYED_HEADER,
                description="`true` when this answer replays an order created before.",
                documentation_only=True,
                required=False,
            )
        ],
        responses=problem_responses(400, 409, 413, 415, 422, 429, 502, 503, 504),
    )
    async def create(
        self, data: JSONBody[CreateOrderBody], create_order: NamedDependency[CreateOrder]
    ) -> Response[OrderView]:
        bind_order(reference_id=data.reference_id)  # on this request's later log lines
        result = await create_order.execute(data.to_order_request())
        bind_order(order_id=result.order.id)
        headers = {REPLAYED_HEADER: "true"} if result.replayed else None
        return Response(OrderView.of(result.order), status_code=201, headers=headers)

    @get(
        "/",
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
        summary="Read an order by its id",
        responses=problem_responses(400, 404, 429, 503),
    )
    async def read(
        self, order_id: FromPath[str], get_order: NamedDependency[GetOrder]
    ) -> OrderView:
        return OrderView.of(await get_order.by_id(order_id))
