"""The payment gateway port over NOWPayments' API (docs/nowpayments.md).

``POST /v1/payment`` creates a crypto payment for a fiat price; ``GET /v1/payment/{id}`` tells its
status. Requests carry ``x-api-key``. Amounts are JSON *numbers* on this API, both ways: they are
written from the ``Decimal`` text (never through a float) and read back as the exact ``Decimal``
of their text.

NOWPayments has no idempotency key: two creates make two payments. So a create first looks for
the order's payment (``GET /v1/payment/?order_id=``): a payment made by an earlier attempt whose
answer was lost (a timeout, a crash) is answered again instead of making a second one. The POST
itself is sent once, never retried in-process. Concurrent creates of one order are kept to one
caller by ``CreateOrder``'s payment intent (docs/adr/0012), not here.

Status mapping onto :class:`PaymentState` (only ``finished`` means the merchant has the money):

============================================  ==========
``finished``                                  completed
``failed``, ``refunded``                      failed
``expired``                                   expired
``waiting``, ``confirming``, ``confirmed``,   pending
``sending``, ``partially_paid`` (underpaid)
anything else                                 pending, logged as a warning (never paid)
============================================  ==========
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated
from urllib.parse import quote, urlencode

import httpx
import msgspec

from adapters.http.breakers import Breakers
from adapters.http.caller import CallRetryPolicy, HttpAdapter
from application.errors import PermanentDownstreamError
from application.ports import (
    CreatedPayment,
    GatewayRefund,
    PaymentRequest,
    PaymentSnapshot,
    PaymentState,
)
from domain import to_milliseconds

log = logging.getLogger("adapters.http.nowpayments")

SERVICE = "nowpayments"
#: Where NOWPayments posts IPNs, under ``PUBLIC_BASE_URL``.
IPN_PATH = "/api/webhooks/nowpayments"

STATES: dict[str, PaymentState] = {
    "waiting": PaymentState.PENDING,
    "confirming": PaymentState.PENDING,
    "confirmed": PaymentState.PENDING,
    "sending": PaymentState.PENDING,
    "partially_paid": PaymentState.PENDING,
    "finished": PaymentState.COMPLETED,
    "failed": PaymentState.FAILED,
    "refunded": PaymentState.FAILED,
    "expired": PaymentState.EXPIRED,
}


def payment_state(status: str, payment_id: str) -> PaymentState:
    """The port's state of a NOWPayments ``payment_status``; an unknown one is pending (logged)."""
    state = STATES.get(status)
    if state is None:
        log.warning(
            "nowpayments payment %s has the unknown status %r: treated as pending",
            payment_id,
            status,
            extra={"payment_id": payment_id, "payment_status": status},
        )
        return PaymentState.PENDING
    return state


NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


def _amount(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError(f"{field} {value} is not a finite, non-negative amount")
    return value


def _time(text: str | None) -> datetime | None:
    """NOWPayments' times ("2026-12-02T20:00:00.000Z"); one without a zone is UTC."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_milliseconds(moment.astimezone(UTC))


def payment_id_text(value: int | str) -> str:
    """A payment id is a number or a string on this API; the service keeps its decimal text."""
    if isinstance(value, bool):  # bool is an int to Python, not to JSON
        raise ValueError("payment_id is not a number or a string")
    text = str(value)
    if not text:
        raise ValueError("payment_id is empty")
    return text


class CreateBody(msgspec.Struct):
    price_amount: Decimal
    price_currency: str
    pay_currency: str
    ipn_callback_url: str
    order_id: str
    order_description: str


class CreatedAnswer(msgspec.Struct):
    payment_id: int | str
    payment_status: NonEmpty
    pay_address: NonEmpty
    price_amount: Decimal
    price_currency: NonEmpty
    pay_amount: Decimal
    pay_currency: NonEmpty
    order_id: str
    created_at: str
    expiration_estimate_date: str | None = None


class ListedPayment(msgspec.Struct):
    payment_id: int | str
    payment_status: NonEmpty
    order_id: str | None = None
    pay_address: str | None = None
    price_amount: Decimal | None = None
    price_currency: str | None = None
    pay_amount: Decimal | None = None
    pay_currency: str | None = None
    created_at: str | None = None


class PaymentList(msgspec.Struct):
    data: list[ListedPayment]


class StatusAnswer(msgspec.Struct):
    payment_id: int | str
    payment_status: NonEmpty
    price_amount: Decimal
    price_currency: NonEmpty
    pay_amount: Decimal | None = None
    actually_paid: Decimal | None = None
    pay_currency: str | None = None
    order_id: str | None = None
    updated_at: str | None = None


_encoder = msgspec.json.Encoder(decimal_format="number")
_created_decoder = msgspec.json.Decoder(CreatedAnswer)
_status_decoder = msgspec.json.Decoder(StatusAnswer)
_list_decoder = msgspec.json.Decoder(PaymentList)
#: A payment in these statuses is no longer one the buyer can pay: a create makes a new one.
CLOSED = frozenset({"failed", "refunded", "expired"})


class NowPaymentsGateway(HttpAdapter):
    """``PaymentGateway`` over NOWPayments. ``pay_currency`` is what buyers pay in (a ticker);
    ``public_base_url`` is this service's, where IPNs are sent."""

    service = SERVICE

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        pay_currency: str,
        public_base_url: str,
        retry: CallRetryPolicy | None = None,
        breakers: Breakers | None = None,
    ) -> None:
        super().__init__(client, retry=retry, breakers=breakers)
        self._pay_currency = pay_currency
        self._ipn_callback_url = public_base_url.rstrip("/") + IPN_PATH

    def create_body(self, request: PaymentRequest) -> CreateBody:
        return CreateBody(
            price_amount=request.amount,
            price_currency=request.currency.lower(),
            pay_currency=self._pay_currency,
            ipn_callback_url=self._ipn_callback_url,
            order_id=request.order_id,
            order_description=request.description,
        )

    async def create_payment(
        self, request: PaymentRequest, *, idempotency_key: str
    ) -> CreatedPayment:
        """One attempt only: NOWPayments takes no idempotency key (``idempotency_key`` is not
        sent), so a retried create could make a second payment."""
        if not request.amount.is_finite():
            raise ValueError(f"amount {request.amount} is not a finite number")
        earlier = await self.find_payment(request)
        if earlier is not None:
            log.info(
                "nowpayments: order %s already has payment %s: answered again, none created",
                request.order_id,
                earlier.id,
                extra={"order_id": request.order_id, "payment_id": earlier.id},
            )
            return earlier

        def parse(status: int, content: bytes) -> CreatedPayment:
            answer = _created_decoder.decode(content)
            if answer.order_id != request.order_id:
                raise ValueError(f"order_id {answer.order_id!r} is not {request.order_id!r}")
            payment_id = payment_id_text(answer.payment_id)
            created_at = _time(answer.created_at)
            assert created_at is not None
            return CreatedPayment(
                id=payment_id,
                token="",  # NOWPayments has no payment token
                checkout_url=None,  # nor a hosted page: the buyer sends crypto to pay_address
                status=payment_state(answer.payment_status, payment_id).value,
                amount=_amount(answer.price_amount, "price_amount"),
                # Sent in lower case (the API's spelling); the port's codes are upper case.
                currency=answer.price_currency.upper(),
                created_at=created_at,
                expires_at=_time(answer.expiration_estimate_date),
                pay_address=answer.pay_address,
                pay_amount=_amount(answer.pay_amount, "pay_amount"),
                pay_currency=answer.pay_currency,
            )

        return await self._calls.call(
            "POST",
            "/v1/payment",
            parse,
            body=_encoder.encode(self.create_body(request)),
            attempts=1,
        )

    async def find_payment(self, request: PaymentRequest) -> CreatedPayment | None:
        """The order's open payment made by an earlier create (the oldest), or None."""

        def parse(status: int, content: bytes) -> CreatedPayment | None:
            for listed in _list_decoder.decode(content).data:
                if listed.order_id != request.order_id or listed.payment_status in CLOSED:
                    continue
                if (
                    listed.pay_address is None
                    or listed.price_amount is None
                    or listed.price_currency is None
                    or listed.pay_amount is None
                    or listed.pay_currency is None
                    or listed.created_at is None
                ):
                    raise ValueError("a listed payment lacks the fields of a created one")
                payment_id = payment_id_text(listed.payment_id)
                created_at = _time(listed.created_at)
                assert created_at is not None
                return CreatedPayment(
                    id=payment_id,
                    token="",
                    checkout_url=None,
                    status=payment_state(listed.payment_status, payment_id).value,
                    amount=_amount(listed.price_amount, "price_amount"),
                    currency=listed.price_currency.upper(),
                    created_at=created_at,
                    expires_at=None,
                    pay_address=listed.pay_address,
                    pay_amount=_amount(listed.pay_amount, "pay_amount"),
                    pay_currency=listed.pay_currency,
                )
            return None

        query = urlencode({"order_id": request.order_id})
        return await self._calls.call("GET", f"/v1/payment/?{query}", parse)

    async def refund_payment(
        self, payment_id: str, amount: Decimal, reason: str, *, idempotency_key: str
    ) -> GatewayRefund:
        """NOWPayments' public API has no refund call with an idempotency key: refused at
        once (permanent), so the order's refund parks for a person to refund by hand."""
        raise PermanentDownstreamError(
            SERVICE, "refunds are not available through the NOWPayments API: refund by hand"
        )

    async def get_refund(self, refund_id: str) -> GatewayRefund:
        raise PermanentDownstreamError(SERVICE, f"no refund {refund_id} at NOWPayments")

    async def get_payment(self, payment_id: str) -> PaymentSnapshot:
        def parse(status: int, content: bytes) -> PaymentSnapshot:
            answer = _status_decoder.decode(content)
            if payment_id_text(answer.payment_id) != payment_id:
                raise ValueError(f"payment_id {answer.payment_id!r} is not {payment_id!r}")
            state = payment_state(answer.payment_status, payment_id)
            if answer.payment_status == "partially_paid":
                log.warning(
                    "nowpayments payment %s is underpaid: %s of %s received; it stays pending",
                    payment_id,
                    answer.actually_paid,
                    answer.pay_amount,
                    extra={"payment_id": payment_id, "payment_status": answer.payment_status},
                )
            return PaymentSnapshot(
                id=payment_id,
                status=state,
                amount=_amount(answer.price_amount, "price_amount"),
                currency=answer.price_currency.upper(),
                paid_at=_time(answer.updated_at) if state is PaymentState.COMPLETED else None,
                # What the buyer sent so far: the order keeps an under-payment for a refund.
                paid_amount=None
                if answer.actually_paid is None
                else _amount(answer.actually_paid, "actually_paid"),
                paid_currency=answer.pay_currency,
                pay_amount=None
                if answer.pay_amount is None
                else _amount(answer.pay_amount, "pay_amount"),
            )

        return await self._calls.call("GET", f"/v1/payment/{quote(payment_id, safe='')}", parse)
