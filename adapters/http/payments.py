"""The payment gateway port over HTTP (the "onecheckout" contract)."""

from __future__ import annotations

from urllib.parse import quote

from adapters.http import wire
from adapters.http.caller import HttpAdapter
from application.ports import CreatedPayment, PaymentRequest, PaymentSnapshot

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


def _created(status: int, content: bytes) -> CreatedPayment:
    return wire.created_payment_decoder.decode(content).to_port()


def _status(status: int, content: bytes) -> PaymentSnapshot:
    return wire.payment_status_decoder.decode(content).to_port()
