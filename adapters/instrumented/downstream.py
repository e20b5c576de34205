"""The downstream ports, counted and timed: one decorator per port, same signature, no change
in behaviour (every exception passes through unchanged)."""

from __future__ import annotations

import time
from decimal import Decimal

from adapters.instrumented.metrics import DOWNSTREAM_CALLS, DOWNSTREAM_LATENCY, child
from application.errors import (
    DownstreamTimeout,
    PermanentDownstreamError,
    TransientDownstreamError,
)
from application.ports import (
    CreatedPayment,
    GatewayRefund,
    PaymentGateway,
    PaymentRequest,
    PaymentSnapshot,
    TokenTransferService,
    Transfer,
    TransferRequest,
    Wallet,
    WalletService,
)


def outcome_of(exc: BaseException | None) -> str:
    """The ``outcome`` label of a call that raised ``exc`` (None: it answered)."""
    match exc:
        case None:
            return "ok"
        case DownstreamTimeout():
            return "timeout"
        case TransientDownstreamError():
            return "transient_error"
        case PermanentDownstreamError():
            return "permanent_error"
        case _:
            return "error"


class Observed:
    """Times and counts one downstream call; a class, not ``@asynccontextmanager``, because the
    generator machinery cost more than the metrics on this hot path."""

    __slots__ = ("_latency", "_operation", "_service", "_started")

    def __init__(self, service: str, operation: str) -> None:
        self._service = service
        self._operation = operation
        self._latency = child(DOWNSTREAM_LATENCY, service, operation)
        self._started = 0.0

    async def __aenter__(self) -> None:
        self._started = time.perf_counter()

    async def __aexit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        self._latency.observe(time.perf_counter() - self._started)
        child(DOWNSTREAM_CALLS, self._service, self._operation, outcome_of(exc)).inc()


class InstrumentedPaymentGateway:
    """``PaymentGateway`` that counts and times each call of the one it wraps."""

    def __init__(self, inner: PaymentGateway) -> None:
        self.inner = inner

    async def create_payment(
        self, request: PaymentRequest, *, idempotency_key: str
    ) -> CreatedPayment:
        async with Observed("payment_gateway", "create_payment"):
            return await self.inner.create_payment(request, idempotency_key=idempotency_key)

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        async with Observed("payment_gateway", "get_payment"):
            return await self.inner.get_payment(payment_id)

    async def refund_payment(
        self, payment_id: str, amount: Decimal, reason: str, *, idempotency_key: str
    ) -> GatewayRefund:
        async with Observed("payment_gateway", "refund_payment"):
            return await self.inner.refund_payment(
                payment_id, amount, reason, idempotency_key=idempotency_key
            )

    async def get_refund(self, refund_id: str) -> GatewayRefund:
        async with Observed("payment_gateway", "get_refund"):
            return await self.inner.get_refund(refund_id)


class InstrumentedWalletService:
    """``WalletService`` that counts and times each call of the one it wraps."""

    def __init__(self, inner: WalletService) -> None:
        self.inner = inner

    async def create_wallet(
        self, *, credential_id: str, public_key: str, idempotency_key: str
    ) -> Wallet:
        async with Observed("wallet", "create_wallet"):
            return await self.inner.create_wallet(
                credential_id=credential_id, public_key=public_key, idempotency_key=idempotency_key
            )


class InstrumentedTokenTransferService:
    """``TokenTransferService`` that counts and times each call of the one it wraps."""

    def __init__(self, inner: TokenTransferService) -> None:
        self.inner = inner

    async def send(self, request: TransferRequest, *, idempotency_key: str) -> Transfer:
        async with Observed("transfer", "send"):
            return await self.inner.send(request, idempotency_key=idempotency_key)

    async def find_by_key(self, idempotency_key: str) -> Transfer | None:
        async with Observed("transfer", "find_by_key"):
            return await self.inner.find_by_key(idempotency_key)
