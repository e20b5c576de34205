"""Create an order: one gateway payment per reference id, whatever the retries."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from application.errors import (
    DownstreamTimeout,
    DuplicateOrder,
    IdempotencyConflict,
    IdempotencyKeyReused,
    InfrastructureUnavailable,
    PaymentCreateInProgress,
    PermanentDownstreamError,
)
from application.ports import (
    Clock,
    OrderRepository,
    PaymentGateway,
    PaymentIntent,
    PaymentIntents,
    PaymentRequest,
)
from domain import Order, OrderRequest, Payment, order_id_for

log = logging.getLogger(__name__)

#: The service named by the errors of the intent-first create (its problem codes are the
#: payment gateway's: ``payment_gateway_timeout``).
GATEWAY_SERVICE = "payment_gateway"


@dataclass(frozen=True, slots=True)
class CreateOrderResult:
    """The order stored; ``replayed`` when it existed already (the same request again)."""

    order: Order
    replayed: bool


@dataclass(frozen=True, slots=True)
class IntentTimings:
    """The intent-first create (docs/adr/0012). ``lease``: how long one create may spend on its
    gateway calls and insert (cut off past it); its intent is held ``margin`` longer (the claim's
    own round trip, clocks of other processes), after which another create may take it over. A
    create that finds the intent held looks again after ``first_look``, doubling up to
    ``max_look``, until the holder's intent must have ended."""

    lease: timedelta
    margin: timedelta = timedelta(seconds=2)
    first_look: timedelta = timedelta(milliseconds=10)
    max_look: timedelta = timedelta(milliseconds=200)

    def __post_init__(self) -> None:
        if self.lease <= timedelta(0) or self.margin < timedelta(0):
            raise ValueError("lease must be positive and margin not negative")
        if not timedelta(0) < self.first_look <= self.max_look:
            raise ValueError("0 < first_look <= max_look")

    @property
    def held(self) -> timedelta:
        """How long an intent is held: the lease and its margin."""
        return self.lease + self.margin


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
    half-made and a retry replays the same payment (ADR 0001).

    With ``intents`` (a gateway without idempotency keys: NOWPayments, ADR 0012) a create first
    takes the order's intent, compare-and-set: of any number of concurrent creates, in any number
    of processes, one calls the gateway; the others wait for its order (or take the intent over
    when it gives up or its lease ends). The gateway adapter looks for the order's payment before
    making one, so a holder that died after the call is recovered without a second payment."""

    def __init__(
        self,
        repository: OrderRepository,
        gateway: PaymentGateway,
        clock: Clock,
        intents: PaymentIntents | None = None,
        timings: IntentTimings | None = None,
    ) -> None:
        self._repository = repository
        self._gateway = gateway
        self._clock = clock
        self._intents = intents
        self._timings = timings or IntentTimings(lease=timedelta(seconds=60))

    async def execute(self, request: OrderRequest) -> CreateOrderResult:
        existing = await self._repository.get_by_reference_id(request.reference_id)
        if existing is not None:
            return self._replay(existing, request)
        if self._intents is None:
            return await self._create(request)
        return await self._create_holding_intent(request, self._intents)

    async def _create_holding_intent(
        self, request: OrderRequest, intents: PaymentIntents
    ) -> CreateOrderResult:
        timings = self._timings
        lease = timings.lease.total_seconds()
        order_id = order_id_for(request.reference_id)
        owner = uuid.uuid4().hex
        give_up = time.monotonic() + (timings.held + timings.max_look).total_seconds()
        pause = timings.first_look.total_seconds()
        while True:
            now = self._clock.now()
            intent = await intents.claim(
                order_id, request.reference_id, owner, now=now, lease_until=now + timings.held
            )
            if intent is not None:
                break
            # Another create holds the order: its order is the answer, once stored.
            existing = await self._repository.get_by_reference_id(request.reference_id)
            if existing is not None:
                return self._replay(existing, request)
            left = give_up - time.monotonic()
            if left <= 0:
                raise PaymentCreateInProgress(
                    GATEWAY_SERVICE,
                    f"order {order_id}: another request is creating its payment; retry",
                )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, timings.max_look.total_seconds())
        if intent.attempt > 1:
            log.warning(
                "order %s: took over its payment create (holder %d of the intent); the gateway "
                "is asked for a payment made by an earlier holder before any is made",
                order_id,
                intent.attempt,
                extra={"order_id": order_id, "intent_attempt": intent.attempt},
            )
        try:
            # The holder before this one may have stored the order and let go since the look.
            existing = await self._repository.get_by_reference_id(request.reference_id)
            if existing is not None:
                return self._replay(existing, request)
            try:
                async with asyncio.timeout(lease):
                    return await self._create(request)
            except TimeoutError as exc:
                raise DownstreamTimeout(
                    GATEWAY_SERVICE,
                    f"order {order_id}: the payment create did not end within its {lease:g} s "
                    "lease; retry",
                ) from exc
        finally:
            # Shielded: a request cancelled meanwhile still lets the others go at once.
            await asyncio.shield(self._release(intent))

    async def _release(self, intent: PaymentIntent) -> None:
        assert self._intents is not None
        try:
            await self._intents.release(intent)
        except InfrastructureUnavailable as exc:
            # Harmless: the lease ends on its own and the next create finds the order first.
            log.warning("order %s: payment intent not released: %s", intent.order_id, exc)

    async def _create(self, request: OrderRequest) -> CreateOrderResult:
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
