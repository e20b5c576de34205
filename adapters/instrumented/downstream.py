"""The downstream ports, counted and timed: one decorator per port, same signature, no change
in behaviour (every exception passes through unchanged)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from adapters.instrumented.metrics import DOWNSTREAM_CALLS, DOWNSTREAM_LATENCY
from application.errors import (
    DownstreamTimeout,
    PermanentDownstreamError,
    TransientDownstreamError,
)
from application.ports import (
    CreatedPayment,
    PaymentGateway,
    PaymentRequest,
    PaymentStatus,
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


@asynccontextmanager
async def observed(service: str, operation: str) -> AsyncIterator[None]:
    started = time.perf_counter()
    failure: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        DOWNSTREAM_LATENCY.labels(service, operation).observe(time.perf_counter() - started)
        DOWNSTREAM_CALLS.labels(service, operation, outcome_of(failure)).inc()


class InstrumentedPaymentGateway:
    """``PaymentGateway`` that counts and times each call of the one it wraps."""

    def __init__(self, inner: PaymentGateway) -> None:
        self.inner = inner

    async def create_payment(
        self, request: PaymentRequest, *, idempotency_key: str
    ) -> CreatedPayment:
        async with observed("payment_gateway", "create_payment"):
            return await self.inner.create_payment(request, idempotency_key=idempotency_key)

    async def get_payment(self, payment_id: str) -> PaymentStatus:
        async with observed("payment_gateway", "get_payment"):
            return await self.inner.get_payment(payment_id)


class InstrumentedWalletService:
    """``WalletService`` that counts and times each call of the one it wraps."""

    def __init__(self, inner: WalletService) -> None:
        self.inner = inner

    async def create_wallet(
        self, *, credential_id: str, public_key: str, idempotency_key: str
    ) -> Wallet:
        async with observed("wallet", "create_wallet"):
            return await self.inner.create_wallet(
                credential_id=credential_id, public_key=public_key, idempotency_key=idempotency_key
            )


class InstrumentedTokenTransferService:
    """``TokenTransferService`` that counts and times each call of the one it wraps."""

    def __init__(self, inner: TokenTransferService) -> None:
        self.inner = inner

    async def send(self, request: TransferRequest, *, idempotency_key: str) -> Transfer:
        async with observed("transfer", "send"):
            return await self.inner.send(request, idempotency_key=idempotency_key)

    async def find_by_key(self, idempotency_key: str) -> Transfer | None:
        async with observed("transfer", "find_by_key"):
            return await self.inner.find_by_key(idempotency_key)
