"""Create an order: one gateway payment per reference id, whatever the retries."""

from __future__ import annotations

from dataclasses import dataclass

from application.buyers import Caller, can_see, client_secret_hash, new_client_secret
from application.errors import (
    DuplicateOrder,
    IdempotencyConflict,
    IdempotencyKeyReused,
    PermanentDownstreamError,
    ReferenceTaken,
)
from application.ports import Clock, OrderRepository, PaymentGateway, PaymentRequest
from domain import Order, OrderRequest, Payment, order_id_for
from domain.order import UNKEYED


@dataclass(frozen=True, slots=True)
class CreateOrderResult:
    """The order stored; ``replayed`` when it existed already (the same request again)."""

    order: Order
    replayed: bool
    #: A guest's new order only: the one-time secret its reads must carry (only its digest is
    #: stored, so it is never shown again).
    client_secret: str | None = None


def payment_request_for(request: OrderRequest, order_id: str) -> PaymentRequest:
    """The gateway body of an order: a function of the request (and its id, itself a function
    of the reference id) alone, so retries replay."""
    return PaymentRequest(
        reference_id=request.reference_id,
        amount=request.price_fiat,
        currency=request.fiat_currency,
        description=f"{request.amount_token:f} {request.token_symbol}",
        order_id=order_id,
        pool_id=request.pool_id,
        return_url=request.return_url,
    )


class CreateOrder:
    """Idempotent on ``reference_id``: the gateway call is made before anything is stored, under
    the reference id as its idempotency key, so a crash or a gateway failure leaves nothing
    half-made and a retry replays the same payment.

    The order belongs to the calling buyer, or, for a guest, to whoever holds the client secret
    the first answer carries; a replay by anyone else is ``ReferenceTaken``. ``caller`` None is
    the service's own (simulator, tests): no owner, replays by equal request alone. Order ids
    are keyed with ``order_id_key`` (ADR 0014)."""

    def __init__(
        self,
        repository: OrderRepository,
        gateway: PaymentGateway,
        clock: Clock,
        *,
        order_id_key: bytes = UNKEYED,
    ) -> None:
        self._repository = repository
        self._gateway = gateway
        self._clock = clock
        self._key = order_id_key

    async def execute(
        self, request: OrderRequest, caller: Caller | None = None
    ) -> CreateOrderResult:
        existing = await self._repository.get_by_reference_id(request.reference_id)
        if existing is not None:
            return self._replay(existing, request, caller)
        order_id = order_id_for(request.reference_id, self._key)
        try:
            created = await self._gateway.create_payment(
                payment_request_for(request, order_id), idempotency_key=request.reference_id
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
        secret = new_client_secret() if caller is not None and caller.is_guest else None
        order = Order.place(
            request,
            payment,
            at=self._clock.now(),
            order_id=order_id,
            buyer_id=None if caller is None else caller.buyer_id,
            client_secret_hash=None if secret is None else client_secret_hash(secret),
        )
        try:
            await self._repository.add(order)
        except DuplicateOrder:
            # A concurrent request won the insert: answer with its order (if it is the caller's).
            winner = await self._repository.get_by_reference_id(request.reference_id)
            if winner is None:
                raise
            return self._replay(winner, request, caller)
        return CreateOrderResult(order, replayed=False, client_secret=secret)

    @staticmethod
    def _replay(existing: Order, request: OrderRequest, caller: Caller | None) -> CreateOrderResult:
        # Ownership first: another buyer learns nothing, not even whether the bodies differ.
        if caller is not None and not can_see(existing, caller):
            raise ReferenceTaken()
        if existing.request != request:
            raise IdempotencyConflict(
                f"reference_id {request.reference_id!r} was used with a different request"
            )
        return CreateOrderResult(existing, replayed=True)
