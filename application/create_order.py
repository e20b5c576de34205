"""Create an order: one gateway payment per reference id, whatever the retries."""

from __future__ import annotations

from dataclasses import dataclass

from application.errors import (
    DuplicateOrder,
    IdempotencyConflict,
    IdempotencyKeyReused,
    PermanentDownstreamError,
)
from application.ports import Clock, OrderRepository, PaymentGateway, PaymentRequest
from domain import Order, OrderRequest, Payment, order_id_for


@dataclass(frozen=True, slots=True)
class CreateOrderResult:
    """The order stored; ``replayed`` when it existed already (the same request again)."""

    order: Order
    replayed: bool


def payment_request_for(request: OrderRequest) -> PaymentRequest:
    """The gateway body of an order: a function of the request alone, so retries replay."""
    return PaymentRequest(
        reference_id=request.reference_id,
        amount=request.price_fiat,
        currency=request.fiat_currency,
        description=f"{request.amount_token:f} {request.token_symbol}",
        order_id=order_id_for(request.reference_id),
        pool_id=request.pool_id,
        return_url=request.return_url,
    )


class CreateOrder:
    """Idempotent on ``reference_id``: the gateway call is made before anything is stored, under
    the reference id as its idempotency key, so a crash or a gateway failure leaves nothing
    half-made and a retry replays the same payment."""

    def __init__(self, repository: OrderRepository, gateway: PaymentGateway, clock: Clock) -> None:
        self._repository = repository
        self._gateway = gateway
        self._clock = clock

    async def execute(self, request: OrderRequest) -> CreateOrderResult:
        existing = await self._repository.get_by_reference_id(request.reference_id)
        if existing is not None:
            return self._replay(existing, request)
        try:
            created = await self._gateway.create_payment(
                payment_request_for(request), idempotency_key=request.reference_id
            )
        except IdempotencyKeyReused as exc:
            raise IdempotencyConflict(
                f"reference_id {request.reference_id!r} was used with a different request"
            ) from exc
        if created.amount != request.price_fiat or created.currency != request.fiat_currency:
            raise PermanentDownstreamError(
                "payment_gateway",
                f"gateway answered {created.amount} {created.currency} for "
                f"{request.price_fiat} {request.fiat_currency}",
            )
        payment = Payment(
            id=created.id,
            token=created.token,
            checkout_url=created.checkout_url,
            status=created.status,
            amount=created.amount,
            currency=created.currency,
            created_at=created.created_at,
            expires_at=created.expires_at,
            pay_address=created.pay_address,
            pay_amount=created.pay_amount,
            pay_currency=created.pay_currency,
        )
        order = Order.place(request, payment, at=self._clock.now())
        try:
            await self._repository.add(order)
        except DuplicateOrder:
            # A concurrent identical request won the insert: answer with its order.
            winner = await self._repository.get_by_reference_id(request.reference_id)
            if winner is None:
                raise
            return self._replay(winner, request)
        return CreateOrderResult(order, replayed=False)

    @staticmethod
    def _replay(existing: Order, request: OrderRequest) -> CreateOrderResult:
        if existing.request != request:
            raise IdempotencyConflict(
                f"reference_id {request.reference_id!r} was used with a different request"
            )
        return CreateOrderResult(existing, replayed=True)
