"""The sandbox as a Litestar app: the three contracts under ``/v1`` as docs/contracts.md states
them, NOWPayments under ``/v1/payment``, plus ``/sandbox/*`` controls, the checkout page and a
demo shop (``/shop``) that buys through the API from the sandbox's origin.

Bodies are read and written with msgspec by hand, so that every answer, errors included, has
the contract's shape (``{"error": "<reason>"}``) rather than the framework's.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import msgspec
from litestar import Litestar, Request, Response, Router, get, post, put
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect

from sandbox.config import AFTER_EFFECT, OUTCOMES, FaultKind, SandboxConfig, SandboxKnobs
from sandbox.ledger import (
    EXPIRED,
    FAILED,
    PENDING,
    AboveAmountPaid,
    KeyReused,
    NotRefundable,
    PaymentOrder,
    Refund,
    Transfer,
    TransferOrder,
)
from sandbox.merchant import BadSignature, MerchantLog, decode, verify
from sandbox.nowpayments import CASES, CLOSED, NowPayment, write_object
from sandbox.pages import after_checkout, checkout_page, index_page
from sandbox.state import Sandbox

AnyRequest = Request[Any, Any, Any]

_encoder = msgspec.json.Encoder()


# --- the contract's bodies, written from the contract (independently of adapters/http) ---


class PaymentMetadataIn(msgspec.Struct):
    order_id: str
    pool_id: str


class PaymentIn(msgspec.Struct):
    reference_id: str
    amount: str
    currency: str
    description: str
    metadata: PaymentMetadataIn
    return_url: str | None = None


class PaymentOut(msgspec.Struct):
    id: str
    token: str
    checkout_url: str
    status: str
    amount: str
    currency: str
    created_at: datetime
    expires_at: datetime | None


class PaymentStatusOut(msgspec.Struct):
    id: str
    status: str
    amount: str
    currency: str
    paid_at: datetime | None


class WalletIn(msgspec.Struct):
    passkey_credential_id: str
    passkey_public_key: str


class WalletOut(msgspec.Struct):
    address: str
    created: bool


class TransferIn(msgspec.Struct):
    destination: str
    pool_id: str
    token_symbol: str
    amount: str
    min_amount_out: str
    slippage_percent: str


class TransferOut(msgspec.Struct):
    id: str
    status: str
    tx_signature: str | None
    amount_out: str | None
    failure_reason: str | None

    @classmethod
    def of(cls, transfer: Transfer) -> TransferOut:
        return cls(
            id=transfer.id,
            status=transfer.status,
            tx_signature=transfer.tx_signature,
            amount_out=None if transfer.amount_out is None else f"{transfer.amount_out:f}",
            failure_reason=transfer.failure_reason,
        )


class RefundIn(msgspec.Struct):
    amount: str
    reason: str


class RefundOut(msgspec.Struct):
    id: str
    payment_id: str
    status: str
    amount: str
    failure_reason: str | None

    @classmethod
    def of(cls, refund: Refund) -> RefundOut:
        return cls(
            id=refund.id,
            payment_id=refund.payment_id,
            status=refund.status,
            amount=f"{refund.amount:f}",
            failure_reason=refund.failure_reason,
        )


_payment_in = msgspec.json.Decoder(PaymentIn)
_wallet_in = msgspec.json.Decoder(WalletIn)
_transfer_in = msgspec.json.Decoder(TransferIn)
_refund_in = msgspec.json.Decoder(RefundIn)
_knobs_in = msgspec.json.Decoder(SandboxKnobs)


class BadBody(ValueError):
    """The request body is not the contract's."""


def _decode(decoder: msgspec.json.Decoder[Any], content: bytes) -> Any:
    try:
        return decoder.decode(content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadBody(str(exc)) from exc


def _amount(text: str, field: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BadBody(f"{field} must be a decimal string, got {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise BadBody(f"{field} must be a positive decimal, got {text!r}")
    return value


def _json(status: int, payload: object, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=_encoder.encode(payload),
        status_code=status,
        media_type=MediaType.JSON,
        headers=headers,
    )


def _error(status: int, reason: str, **extra: str) -> Response[bytes]:
    return _json(status, {"error": reason, **extra})


def _sandbox(request: AnyRequest) -> Sandbox:
    return cast(Sandbox, request.app.state.sandbox)


def _idempotency_key(request: AnyRequest) -> str:
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        raise BadBody("the Idempotency-Key header is required")
    return key


def _base_url(request: AnyRequest) -> str:
    sandbox = _sandbox(request)
    return (sandbox.config.public_url or str(request.base_url)).rstrip("/")


# --- faults ---


async def _fault_answer(sandbox: Sandbox, fault: FaultKind) -> Response[bytes]:
    if fault in ("timeout", "effect_then_timeout"):
        # Hang past the client's read timeout; a client that waits anyway gets a 504.
        await asyncio.sleep(sandbox.knobs.timeout_seconds)
        return _error(504, "timeout")
    if fault == "rate_limit":
        seconds = str(sandbox.knobs.retry_after_seconds)
        return _json(429, {"error": "rate_limited"}, headers={"Retry-After": seconds})
    if fault == "malformed":
        return _json(200, {"unexpected": "this body is not the contract's"})
    status, reason = {
        "error": (503, "unavailable"),
        "in_progress": (409, "in_progress"),
        "bad_request": (400, "bad_request"),
        "slippage": (422, "slippage_exceeded"),
        "effect_then_fail": (500, "internal_error"),
    }[fault]
    return _error(status, reason)


async def _after_effect(request: AnyRequest, answer: Response[bytes]) -> Response[bytes]:
    """The answer, unless a fault that strikes after the effect was drawn for this call."""
    fault: FaultKind | None = request.state.get("fault")
    if fault in AFTER_EFFECT:
        assert fault is not None
        return await _fault_answer(_sandbox(request), fault)
    return answer


def _authorized(config: SandboxConfig, endpoint: str, header: str) -> bool:
    expected = {
        "create_payment": config.payment_api_key,
        "get_payment": config.payment_api_key,
        "refund_payment": config.payment_api_key,
        "get_refund": config.payment_api_key,
        "create_wallet": config.wallet_api_key,
        "send_transfer": config.transfer_api_key,
        "get_transfer": config.transfer_api_key,
    }[endpoint]
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    # An empty key setting accepts any bearer token (local development).
    return not expected or hmac.compare_digest(token.strip().encode(), expected.encode())


async def _contract_gate(request: AnyRequest) -> Response[bytes] | None:
    """Before every contract call: count it, check the key, wait the latency, draw a fault."""
    sandbox = _sandbox(request)
    endpoint: str = request.route_handler.opt["endpoint"]
    sandbox.calls[endpoint] += 1
    if not _authorized(sandbox.config, endpoint, request.headers.get("authorization", "")):
        return _error(401, "unauthorized")
    await sandbox.wait_latency()
    fault = sandbox.draw_fault(cast(Any, endpoint))
    request.state.fault = fault
    if fault is None or fault in AFTER_EFFECT or fault in OUTCOMES:
        return None
    return await _fault_answer(sandbox, fault)


# --- 1. payment gateway ---


@post("/payments", opt={"endpoint": "create_payment"})
async def create_payment(request: AnyRequest) -> Response[bytes]:
    sandbox = _sandbox(request)
    try:
        key = _idempotency_key(request)
        body: PaymentIn = _decode(_payment_in, await request.body())
        amount = _amount(body.amount, "amount")
        if not (len(body.currency) == 3 and body.currency.isalpha() and body.currency.isupper()):
            raise BadBody(f"currency must be an ISO 4217 code, got {body.currency!r}")
    except BadBody as exc:
        return _error(400, "invalid_request", detail=str(exc))
    payment_order = PaymentOrder(
        reference_id=body.reference_id,
        amount=amount,
        currency=body.currency,
        description=body.description,
        order_id=body.metadata.order_id,
        pool_id=body.metadata.pool_id,
        return_url=body.return_url,
    )
    try:
        created = sandbox.gateway.create(payment_order, key=key)
    except KeyReused:
        sandbox.payment_conflicts += 1
        return _error(409, "idempotency_key_reused")
    # No await since the book stored the payment: this check and the add are one step.
    replay = created.id in sandbox.answered_payments
    sandbox.answered_payments.add(created.id)
    answer = PaymentOut(
        id=created.id,
        token=created.token,
        checkout_url=f"{_base_url(request)}/checkout/{created.id}",
        status=PENDING,
        amount=f"{created.order.amount:f}",
        currency=created.order.currency,
        created_at=created.created_at,
        expires_at=created.expires_at,
    )
    return await _after_effect(request, _json(200 if replay else 201, answer))


@get("/payments/{payment_id:str}", opt={"endpoint": "get_payment"})
async def get_payment(request: AnyRequest, payment_id: FromPath[str]) -> Response[bytes]:
    sandbox = _sandbox(request)
    stored = sandbox.gateway.payments.get(payment_id)
    if stored is None:
        return _error(404, "not_found")
    answer = PaymentStatusOut(
        id=stored.id,
        status=stored.status,
        amount=f"{stored.paid:f}",
        currency=stored.currency,
        paid_at=stored.paid_at,
    )
    return await _after_effect(request, _json(200, answer))


@post("/payments/{payment_id:str}/refunds", opt={"endpoint": "refund_payment"})
async def refund_payment(request: AnyRequest, payment_id: FromPath[str]) -> Response[bytes]:
    sandbox = _sandbox(request)
    try:
        key = _idempotency_key(request)
        body: RefundIn = _decode(_refund_in, await request.body())
        amount = _amount(body.amount, "amount")
    except BadBody as exc:
        return _error(400, "invalid_request", detail=str(exc))
    sandbox.refund_requests[key] += 1
    payment = sandbox.gateway.payments.get(payment_id)
    if payment is None:
        return _error(404, "not_found")
    try:
        refund = sandbox.gateway.refund(
            payment, amount, body.reason, key=key, outcome=sandbox.knobs.refund_outcome
        )
    except KeyReused:
        return _error(409, "idempotency_key_reused")
    except NotRefundable:
        return _error(409, "not_refundable")
    except AboveAmountPaid as exc:
        return _error(400, "invalid_request", detail=str(exc))
    replay = refund.id in sandbox.answered_refunds
    sandbox.answered_refunds.add(refund.id)
    return await _after_effect(request, _json(200 if replay else 201, RefundOut.of(refund)))


@get("/refunds/{refund_id:str}", opt={"endpoint": "get_refund"})
async def get_refund(request: AnyRequest, refund_id: FromPath[str]) -> Response[bytes]:
    refund = _sandbox(request).gateway.refund_by_id(refund_id)
    if refund is None:
        return _error(404, "not_found")
    return await _after_effect(request, _json(200, RefundOut.of(refund)))


# --- 2. wallet service ---


@post("/wallets", opt={"endpoint": "create_wallet"})
async def create_wallet(request: AnyRequest) -> Response[bytes]:
    sandbox = _sandbox(request)
    try:
        key = _idempotency_key(request)
        body: WalletIn = _decode(_wallet_in, await request.body())
        if not body.passkey_credential_id or not body.passkey_public_key:
            raise BadBody("passkey_credential_id and passkey_public_key must not be empty")
    except BadBody as exc:
        return _error(400, "invalid_request", detail=str(exc))
    del key  # required by the contract; the credential alone names the wallet
    address, created = sandbox.wallets.create(body.passkey_credential_id)
    if not created:
        sandbox.wallets_existing += 1
    answer = WalletOut(address=address, created=created)
    return await _after_effect(request, _json(201 if created else 200, answer))


# --- 3. token transfer service ---


@post("/transfers", opt={"endpoint": "send_transfer"})
async def send_transfer(request: AnyRequest) -> Response[bytes]:
    sandbox = _sandbox(request)
    try:
        key = _idempotency_key(request)
        body: TransferIn = _decode(_transfer_in, await request.body())
        transfer_order = TransferOrder(
            destination=body.destination,
            pool_id=body.pool_id,
            token_symbol=body.token_symbol,
            amount=_amount(body.amount, "amount"),
            min_amount_out=_amount(body.min_amount_out, "min_amount_out"),
            slippage_percent=_amount(body.slippage_percent, "slippage_percent"),
        )
    except BadBody as exc:
        return _error(400, "invalid_request", detail=str(exc))
    transfer = sandbox.transfers.send(
        transfer_order, key=key, confirm=sandbox.knobs.confirm_transfers
    )
    replay = transfer.id in sandbox.answered_transfers
    outcome = request.state.get("fault")
    if not replay and outcome == "failed_on_chain":
        transfer = sandbox.transfers.fail_on_chain(key)
    elif not replay and outcome == "short_amount":
        transfer = sandbox.transfers.deliver_short(key)
    sandbox.answered_transfers.add(transfer.id)
    return await _after_effect(request, _json(200 if replay else 201, TransferOut.of(transfer)))


@get("/transfers/by-key/{idempotency_key:str}", opt={"endpoint": "get_transfer"})
async def get_transfer_by_key(
    request: AnyRequest, idempotency_key: FromPath[str]
) -> Response[bytes]:
    transfer = _sandbox(request).transfers.transfers.get(idempotency_key)
    if transfer is None:
        return _error(404, "not_found")
    return await _after_effect(request, _json(200, TransferOut.of(transfer)))


contract = Router(
    path="/v1",
    route_handlers=[
        create_payment,
        get_payment,
        refund_payment,
        get_refund,
        create_wallet,
        send_transfer,
        get_transfer_by_key,
    ],
    before_request=_contract_gate,
)


# --- 4. NOWPayments (docs/nowpayments.md): no idempotency key, amounts as JSON numbers ---


class NowPaymentIn(msgspec.Struct):
    price_amount: Decimal
    price_currency: str
    pay_currency: str
    ipn_callback_url: str
    order_id: str
    order_description: str = ""
    is_fixed_rate: bool = False
    #: Sandbox only: force the outcome (``success``, ``fail``, ``partially_paid``).
    case: str | None = None


_nowpayment_in = msgspec.json.Decoder(NowPaymentIn)
_FIAT = re.compile(r"[a-z]{3}")
_TICKER = re.compile(r"[a-z0-9]{2,20}")


def _np_json(status: int, payment: NowPayment) -> Response[bytes]:
    # Written by hand: numbers as JavaScript writes them, in NOWPayments' field order.
    content = write_object(payment.fields()).encode("utf-8")
    return Response(content=content, status_code=status, media_type=MediaType.JSON)


def _np_error(status: int, code: str, message: str) -> Response[bytes]:
    return _json(status, {"status": False, "statusCode": status, "code": code, "message": message})


async def _nowpayments_gate(request: AnyRequest) -> Response[bytes] | None:
    """Before every NOWPayments call: count it, check ``x-api-key``, latency, a fault."""
    sandbox = _sandbox(request)
    endpoint: str = request.route_handler.opt["endpoint"]
    sandbox.calls[endpoint] += 1
    key = request.headers.get("x-api-key", "").strip()
    expected = sandbox.config.nowpayments_api_key
    if not key or (expected and not hmac.compare_digest(key.encode(), expected.encode())):
        return _np_error(403, "INVALID_API_KEY", "Invalid api key")
    await sandbox.wait_latency()
    fault = sandbox.draw_fault(cast(Any, endpoint))
    request.state.fault = fault
    if fault is None or fault in AFTER_EFFECT:
        return None
    return await _fault_answer(sandbox, fault)


def _valid_nowpayment(body: NowPaymentIn) -> None:
    if not body.price_amount.is_finite() or body.price_amount <= 0:
        raise BadBody("price_amount must be a positive number")
    if not _FIAT.fullmatch(body.price_currency):
        raise BadBody("price_currency must be a currency code in lower case")
    if not _TICKER.fullmatch(body.pay_currency):
        raise BadBody("pay_currency must be a ticker in lower case")
    if not body.ipn_callback_url.startswith(("http://", "https://")):
        raise BadBody("ipn_callback_url must be an http(s) URL")
    if not body.order_id:
        raise BadBody("order_id is required")
    if body.case is not None and body.case not in CASES:
        raise BadBody(f"case must be one of {', '.join(CASES)}")


@post("/", opt={"endpoint": "nowpayments_create"})
async def nowpayments_create(request: AnyRequest) -> Response[bytes]:
    sandbox = _sandbox(request)
    try:
        body: NowPaymentIn = _decode(_nowpayment_in, await request.body())
        _valid_nowpayment(body)
    except BadBody as exc:
        return _np_error(400, "INVALID_REQUEST_PARAMS", str(exc))
    payment = sandbox.nowpayments.create(
        price_amount=body.price_amount,
        price_currency=body.price_currency,
        pay_currency=body.pay_currency,
        ipn_callback_url=body.ipn_callback_url,
        order_id=body.order_id,
        order_description=body.order_description,
    )
    if body.case is not None:
        task = asyncio.create_task(_force_case(sandbox, payment, CASES[body.case]))
        sandbox.background.add(task)
        task.add_done_callback(sandbox.background.discard)
    return await _after_effect(request, _np_json(201, payment))


async def _force_case(sandbox: Sandbox, payment: NowPayment, status: str) -> None:
    await asyncio.sleep(sandbox.knobs.nowpayments_case_delay_seconds)
    paid = {"finished": payment.pay_amount, "partially_paid": payment.pay_amount / 2}
    sandbox.nowpayments.move(payment, status, paid=paid.get(status, Decimal(0)))
    sandbox.notify_nowpayments(payment)


@get("/{payment_id:str}", opt={"endpoint": "nowpayments_status"})
async def nowpayments_status(request: AnyRequest, payment_id: FromPath[str]) -> Response[bytes]:
    payment = _sandbox(request).nowpayments.payments.get(payment_id)
    if payment is None:
        return _np_error(404, "PAYMENT_NOT_FOUND", f"Payment {payment_id} not found")
    return await _after_effect(request, _np_json(200, payment))


@get("/", opt={"endpoint": "nowpayments_list"})
async def nowpayments_list(
    request: AnyRequest, order_id: FromQuery[str | None] = None
) -> Response[bytes]:
    """The payment list (``?order_id=``: one order's), oldest first, one page."""
    ledger = _sandbox(request).nowpayments
    found = ledger.for_order(order_id) if order_id else list(ledger.payments.values())
    items = ",".join(write_object(p.fields()) for p in found)
    content = (
        f'{{"data":[{items}],"limit":{max(len(found), 10)},"page":0,"pagesCount":1,'
        f'"total":{len(found)}}}'
    ).encode()
    return await _after_effect(
        request, Response(content=content, status_code=200, media_type=MediaType.JSON)
    )


nowpayments = Router(
    path="/v1/payment",
    route_handlers=[nowpayments_create, nowpayments_list, nowpayments_status],
    before_request=_nowpayments_gate,
)

#: ``POST /sandbox/nowpayments/{id}/{action}``: the buyer's side and NOWPayments' own moves.
NOWPAYMENTS_ACTIONS = (
    "confirming",
    "confirmed",
    "sending",
    "pay",
    "fail",
    "expire",
    "refund",
    "ipn",
)


def _nowpayment_view(sandbox: Sandbox, payment: NowPayment) -> dict[str, object]:
    deliveries = sandbox.deliveries.get(str(payment.payment_id), [])
    view = {k: f"{v:f}" if isinstance(v, Decimal) else v for k, v in payment.fields().items()}
    return {
        **view,
        "history": list(payment.history),
        "ipns": [
            {"id": d.event_id, "status": d.status, "attempts": d.attempts} for d in deliveries
        ],
    }


@get("/sandbox/nowpayments")
async def list_nowpayments(
    request: AnyRequest, order_id: FromQuery[str | None] = None
) -> Response[bytes]:
    """Every NOWPayments payment made (``?order_id=``: those of one order)."""
    sandbox = _sandbox(request)
    ledger = sandbox.nowpayments
    payments = ledger.for_order(order_id) if order_id else list(ledger.payments.values())
    return _json(200, [_nowpayment_view(sandbox, p) for p in payments])


@get("/sandbox/nowpayments/{payment_id:str}")
async def read_nowpayment(request: AnyRequest, payment_id: FromPath[str]) -> Response[bytes]:
    sandbox = _sandbox(request)
    payment = sandbox.nowpayments.payments.get(payment_id)
    if payment is None:
        return _error(404, "not_found")
    return _json(200, _nowpayment_view(sandbox, payment))


@post("/sandbox/nowpayments/{payment_id:str}/{action:str}")
async def move_nowpayment(
    request: AnyRequest,
    payment_id: FromPath[str],
    action: FromPath[str],
    amount: FromQuery[str | None] = None,
    late: FromQuery[bool] = False,
    ipn: FromQuery[bool] = True,
) -> Response[bytes]:
    """Move a payment and send its IPN (``?ipn=false``: the IPN is lost). ``pay`` receives
    ``?amount=`` (default: ``pay_amount``; less is an under-payment, ``partially_paid``);
    ``?late=true`` lets money arrive after the payment expired or failed (a late payment:
    ``finished``). ``refund`` a finished payment; ``ipn`` sends the current status again (a
    duplicate IPN)."""
    sandbox = _sandbox(request)
    ledger = sandbox.nowpayments
    payment = ledger.payments.get(payment_id)
    if payment is None:
        return _error(404, "not_found")
    if action not in NOWPAYMENTS_ACTIONS:
        return _error(404, "unknown_action", detail=", ".join(NOWPAYMENTS_ACTIONS))
    if action == "ipn":
        sandbox.notify_nowpayments(payment)
        return _json(200, _nowpayment_view(sandbox, payment))
    closed = payment.status in CLOSED
    allowed = (
        (action == "refund" and payment.status == "finished")
        or (action == "pay" and (not closed or (late and payment.status != "refunded")))
        or (action not in ("pay", "refund") and not closed)
    )
    if not allowed:
        return _error(409, "not_open", payment_status=payment.status)
    if action == "pay":
        try:
            paid = payment.pay_amount if amount is None else _amount(amount, "amount")
        except BadBody as exc:
            return _error(400, "invalid_request", detail=str(exc))
        total = paid if closed else payment.actually_paid + paid
        status = "finished" if total >= payment.pay_amount else "partially_paid"
        ledger.move(payment, status, paid=total)
    else:
        status = {"fail": "failed", "expire": "expired", "refund": "refunded"}.get(action, action)
        ledger.move(payment, status)
    if ipn:
        sandbox.notify_nowpayments(payment)
    return _json(200, _nowpayment_view(sandbox, payment))


# --- controls: knobs, counters, the buyer's side ---


@get("/sandbox/config")
async def read_config(request: AnyRequest) -> Response[bytes]:
    return _json(200, _sandbox(request).knobs)


@put("/sandbox/config")
async def replace_config(request: AnyRequest) -> Response[bytes]:
    sandbox = _sandbox(request)
    try:
        knobs: SandboxKnobs = _decode(_knobs_in, await request.body())
    except BadBody as exc:
        return _error(400, "invalid_config", detail=str(exc))
    sandbox.replace_knobs(knobs)
    return _json(200, knobs)


@get("/sandbox/stats")
async def read_stats(request: AnyRequest) -> Response[bytes]:
    return _json(200, _sandbox(request).stats())


@post("/sandbox/reset")
async def reset(request: AnyRequest) -> Response[bytes]:
    await _sandbox(request).reset()
    return _json(200, {"reset": True})


@get("/sandbox/transfers")
async def list_transfers(request: AnyRequest) -> Response[bytes]:
    transfers = _sandbox(request).transfers.transfers
    return _json(
        200,
        [
            {
                "key": stored.key,
                "id": stored.id,
                "status": stored.status,
                "destination": stored.order.destination,
                "pool_id": stored.order.pool_id,
                "token_symbol": stored.order.token_symbol,
                "amount": f"{stored.order.amount:f}",
            }
            for stored in transfers.values()
        ],
    )


@get("/sandbox/refunds")
async def list_refunds(request: AnyRequest) -> Response[bytes]:
    """Every refund made: key, id, payment, status, amount, reason, calls under its key."""
    sandbox = _sandbox(request)
    return _json(
        200,
        [
            {
                "key": key,
                "id": refund.id,
                "payment_id": refund.payment_id,
                "status": refund.status,
                "amount": f"{refund.amount:f}",
                "reason": refund.reason,
                "requests": sandbox.refund_requests[key],
            }
            for key, refund in sorted(sandbox.gateway.refunds.items())
        ],
    )


@post("/sandbox/refunds/settle")
async def settle_refunds(
    request: AnyRequest, status: FromQuery[str] = "succeeded"
) -> Response[bytes]:
    """Settle every ``pending`` refund to ``?status=succeeded`` (default) or ``failed``."""
    if status not in ("succeeded", "failed"):
        return _error(400, "invalid_request", detail="status must be succeeded or failed")
    _sandbox(request).gateway.settle_refunds(status)
    return _json(200, {"settled": True})


@post("/sandbox/transfers/confirm")
async def confirm_transfers(request: AnyRequest) -> Response[bytes]:
    """Confirm every ``submitted`` transfer (with the ``confirm_transfers: false`` knob)."""
    _sandbox(request).transfers.confirm_all()
    return _json(200, {"confirmed": True})


def _payment_view(sandbox: Sandbox, payment_id: str, base_url: str) -> dict[str, object]:
    stored = sandbox.gateway.payments[payment_id]
    return {
        "id": payment_id,
        "reference_id": stored.order.reference_id,
        "order_id": stored.order.order_id,
        "pool_id": stored.order.pool_id,
        "status": stored.status,
        "amount": f"{stored.order.amount:f}",
        "currency": stored.order.currency,
        "paid_amount": None if stored.paid_amount is None else f"{stored.paid_amount:f}",
        "paid_at": stored.paid_at,
        "checkout_url": f"{base_url}/checkout/{payment_id}",
        "webhooks": [
            {
                "event_id": d.event_id,
                "status": d.status,
                "attempts": d.attempts,
                "answers": d.history,
            }
            for d in sandbox.deliveries.get(payment_id, [])
        ],
    }


@get("/sandbox/payments/{payment_id:str}")
async def read_payment(request: AnyRequest, payment_id: FromPath[str]) -> Response[bytes]:
    sandbox = _sandbox(request)
    if payment_id not in sandbox.gateway.payments:
        return _error(404, "not_found")
    return _json(200, _payment_view(sandbox, payment_id, _base_url(request)))


@post("/sandbox/payments/{payment_id:str}/{action:str}")
async def settle_payment(
    request: AnyRequest,
    payment_id: FromPath[str],
    action: FromPath[str],
    amount: FromQuery[str | None] = None,
    webhook: FromQuery[bool] = True,
    currency: FromQuery[str | None] = None,
    late: FromQuery[bool] = False,
) -> Response[bytes] | Redirect:
    """``complete`` (``?amount=`` / ``?currency=`` pays another amount or currency;
    ``?late=true`` completes a payment already ``expired`` or ``failed``: the bank settled
    after the expiry), ``fail`` or ``expire`` a pending payment and send its webhook
    (``?webhook=false``: none, as if it were lost; only a re-check of the payment finds out);
    ``webhook`` sends the current status again (a duplicate delivery)."""
    sandbox = _sandbox(request)
    from_form = request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    )
    if payment_id not in sandbox.gateway.payments:
        return _error(404, "not_found")
    if action not in ("complete", "fail", "expire", "webhook"):
        return _error(404, "unknown_action", detail="complete, fail, expire or webhook")
    stored = sandbox.gateway.payments[payment_id]
    late_completion = action == "complete" and late and stored.status in (PENDING, EXPIRED, FAILED)
    if action == "webhook":
        sandbox.notify(payment_id)
    elif stored.status != PENDING and not late_completion:
        if not from_form:
            return _error(409, "not_pending", payment_status=stored.status)
    else:
        try:
            paid = None if amount is None else _amount(amount, "amount")
            if currency is not None and not (len(currency) == 3 and currency.isalpha()):
                raise BadBody(f"currency must be an ISO 4217 code, got {currency!r}")
        except BadBody as exc:
            return _error(400, "invalid_request", detail=str(exc))
        sandbox.settle(
            payment_id, action, paid, notify=webhook, currency=currency, late=late_completion
        )
    if from_form:
        return Redirect(after_checkout(stored), status_code=303)
    return _json(200, _payment_view(sandbox, payment_id, _base_url(request)))


@get("/checkout/{payment_id:str}", media_type=MediaType.HTML)
async def checkout(request: AnyRequest, payment_id: FromPath[str]) -> Response[str]:
    sandbox = _sandbox(request)
    stored = sandbox.gateway.payments.get(payment_id)
    if stored is None:
        return Response("<h1>No such payment</h1>", status_code=404, media_type=MediaType.HTML)
    return Response(
        checkout_page(stored, sandbox.deliveries.get(payment_id, [])), media_type=MediaType.HTML
    )


#: The demo shop: plain HTML and fetch, no build step (sandbox/shop.html).
SHOP_PAGE = Path(__file__).with_name("shop.html")
#: The API the shop calls when neither ``?api=`` nor the webhook target says otherwise.
DEFAULT_API = "http://127.0.0.1:8000"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of an absolute http(s) URL (no default port), or None.

    The sandbox's own copy, kept small: ``sandbox/`` imports nothing of the service."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    default = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + ("" if port in (None, default) else f":{port}")


def shop_api_base(config: SandboxConfig) -> str:
    """The API the shop calls by default: the origin the sandbox posts its webhooks to."""
    return (origin_of(config.webhook_url) if config.webhook_url else None) or DEFAULT_API


@get("/shop", media_type=MediaType.HTML)
async def shop(request: AnyRequest) -> Response[str]:
    """A storefront on the sandbox's origin that buys through the API with ``fetch``: create,
    follow ``payment.checkout_url``, come back through ``return_url``, watch the order until it
    is completed. ``?api=<base URL>`` points it at another API."""
    api = shop_api_base(_sandbox(request).config)
    # A JSON string literal inside the page's script; "</" cannot close the script element.
    literal = msgspec.json.encode(api).decode().replace("</", "<\\/")
    page = SHOP_PAGE.read_text(encoding="utf-8").replace('"__API_BASE__"', literal)
    return Response(page, media_type=MediaType.HTML)


@get("/", media_type=MediaType.HTML)
async def index(request: AnyRequest) -> Response[str]:
    payments = list(_sandbox(request).gateway.payments.values())
    return Response(index_page(payments), media_type=MediaType.HTML)


# --- the merchant's receiver of order events ---


@post("/merchant/order-events")
async def receive_order_event(request: AnyRequest) -> Response[bytes]:
    """Verify, record (deduped by event id) and answer, as the knobs say: a share refused with
    500 before recording, a share recorded then refused (a lost ack), every answer delayed."""
    sandbox = _sandbox(request)
    knobs, log = sandbox.knobs, sandbox.merchant
    log.counters["received"] += 1
    if knobs.merchant_delay_ms:
        await asyncio.sleep(knobs.merchant_delay_ms / 1000)
    body = await request.body()
    secret = sandbox.config.merchant_events_secret
    try:
        if not secret:
            raise BadSignature("the receiver has no secret")
        verify(secret, request.headers.get("x-signature", ""), body)
        event = decode(body)
    except BadSignature as exc:
        log.counters["bad_signature"] += 1
        return _error(401, "bad_signature", detail=str(exc))
    except ValueError as exc:
        log.counters["bad_body"] += 1
        return _error(400, "invalid_event", detail=str(exc))
    if request.headers.get("x-event-id") != event.id:
        log.counters["bad_body"] += 1
        return _error(400, "invalid_event", detail="X-Event-Id is not the body's id")
    draw = sandbox.rng.random()
    if draw < knobs.merchant_fail_rate:
        log.counters["faulted"] += 1
        return _error(500, "merchant_fault")
    fresh = log.record(event)
    if draw < knobs.merchant_fail_rate + knobs.merchant_fail_after_rate:
        log.counters["faulted_after_record"] += 1
        return _error(500, "merchant_fault_after_record")
    return _json(200, {"received": event.id, "duplicate": not fresh})


@get("/sandbox/merchant/events")
async def merchant_events(request: AnyRequest) -> Response[bytes]:
    return _json(200, _sandbox(request).merchant.view())


@get("/sandbox/merchant/stats")
async def merchant_stats(request: AnyRequest) -> Response[bytes]:
    return _json(200, _sandbox(request).merchant.stats())


@post("/sandbox/merchant/reset")
async def merchant_reset(request: AnyRequest) -> Response[bytes]:
    _sandbox(request).merchant = MerchantLog()
    return _json(200, {"reset": True})


def create_sandbox_app(config: SandboxConfig | None = None) -> Litestar:
    """A fresh sandbox (its own memory) serving the three contracts and its controls."""
    sandbox = Sandbox(config or SandboxConfig())
    return Litestar(
        route_handlers=[
            contract,
            nowpayments,
            list_nowpayments,
            read_nowpayment,
            move_nowpayment,
            read_config,
            replace_config,
            read_stats,
            reset,
            list_transfers,
            confirm_transfers,
            receive_order_event,
            merchant_events,
            merchant_stats,
            merchant_reset,
            list_refunds,
            settle_refunds,
            read_payment,
            settle_payment,
            checkout,
            shop,
            index,
        ],
        state=State({"sandbox": sandbox}),
        on_startup=[sandbox.webhooks.start],
        on_shutdown=[sandbox.webhooks.stop],
        openapi_config=None,
        # Logging belongs to whoever runs the app (the CLI, a test): none configured here.
        logging_config=None,
    )
