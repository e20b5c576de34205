"""The payment gateway port over HTTP (the "onecheckout" contract)."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from adapters.http import wire
from adapters.http.caller import HttpAdapter
from application.ports import CreatedPayment, GatewayRefund, PaymentRequest, PaymentSnapshot

SERVICE = "payment_gateway"


class HttpPaymentGateway(HttpAdapter):
    """``PaymentGateway`` over ``POST /v1/payments`` and ``GET /v1/payments/{id}``.

    The idempotency key goes in ``Idempotency-Key`` on every attempt; a 409
    ``idempotency_key_reused`` is ``IdempotencyKeyReused``, an unknown payment (404) a
    ``PermanentDownstreamError``.
    """

    service = SERVICE

    async def create_payment(
        self, request: PaymentRequest, *, idempotency_key: str
    ) -> CreatedPayment:
        return await self._calls.call(
            "POST",
            "/v1/payments",
            _created,
            body=wire.encoder.encode(wire.CreatePaymentBody.of(request)),
            idempotency_key=idempotency_key,
        )

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        return await self._calls.call("GET", f"/v1/payments/{quote(payment_id, safe='')}", _status)

    async def refund_payment(
        self, payment_id: str, amount: Decimal, reason: str, *, idempotency_key: str
    ) -> GatewayRefund:
        """``POST /v1/payments/{id}/refunds`` under ``Idempotency-Key: <order id>:refund``
        (docs/refunds.md); a 409 ``not_refundable`` is permanent, like every 4xx but
        ``in_progress``."""
        return await self._calls.call(
            "POST",
            f"/v1/payments/{quote(payment_id, safe='')}/refunds",
            _refund,
            body=wire.encoder.encode(wire.RefundBody.of(amount, reason)),
            idempotency_key=idempotency_key,
        )

    async def get_refund(self, refund_id: str) -> GatewayRefund:
        return await self._calls.call("GET", f"/v1/refunds/{quote(refund_id, safe='')}", _refund)


def _created(status: int, content: bytes) -> CreatedPayment:
    return wire.created_payment_decoder.decode(content).to_port()


def _status(status: int, content: bytes) -> PaymentSnapshot:
    return wire.payment_status_decoder.decode(content).to_port()


def _refund(status: int, content: bytes) -> GatewayRefund:
    return wire.refund_decoder.decode(content).to_port()
