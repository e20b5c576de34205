"""The FastAPI + pydantic twin of bench/bench_api.py: the same create-body rules (lengths, the
decimal-string pattern, the currency, no unknown fields: ``domain.grammar``'s), the same answer
shape, no I/O.

No ``from __future__ import annotations`` here: FastAPI and pydantic read these annotations at
runtime."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from domain import grammar
from domain.grammar import TextRule


def _whole(rule: TextRule) -> str:
    """``rule`` anchored for pydantic's Rust regex engine, where ``$`` is the end of the text (it
    has no look-ahead, so the service's wire pattern does not compile there)."""
    return f"^(?:{rule.body})$"


Decimal = Annotated[
    str, Field(pattern=_whole(grammar.DECIMAL_TEXT), max_length=grammar.DECIMAL_TEXT.max_length)
]
Identifier = Annotated[str, Field(min_length=1, max_length=grammar.IDENTIFIER.max_length)]


class PasskeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    credential_id: Annotated[str, Field(min_length=1, max_length=grammar.CREDENTIAL_ID.max_length)]
    public_key: Annotated[str, Field(min_length=1, max_length=grammar.PUBLIC_KEY.max_length)]


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reference_id: Identifier
    pool_id: Identifier
    token_symbol: Annotated[str, Field(min_length=1, max_length=grammar.TOKEN_SYMBOL.max_length)]
    amount_token: Decimal
    min_amount_token_receive: Decimal
    price_tolerance_percent: Decimal
    fiat_currency: Annotated[str, Field(pattern=_whole(grammar.CURRENCY))]
    price_fiat: Decimal
    passkey: PasskeyIn
    smart_wallet_address: (
        Annotated[str, Field(min_length=1, max_length=grammar.WALLET_ADDRESS.max_length)] | None
    ) = None


class PasskeyOut(BaseModel):
    credential_id: str
    public_key: str


class PaymentOut(BaseModel):
    id: str
    token: str
    checkout_url: str
    status: str
    amount: str
    currency: str
    created_at: datetime | None
    expires_at: datetime | None


class TransferOut(BaseModel):
    transfer_id: str
    status: str
    tx_signature: str | None
    amount_out: str | None


class StatusChangeOut(BaseModel):
    status: str
    at: datetime
    reason: str


class OrderOut(BaseModel):
    id: str
    reference_id: str
    status: str
    pool_id: str
    token_symbol: str
    amount_token: str
    min_amount_token_receive: str
    price_tolerance_percent: str
    fiat_currency: str
    price_fiat: str
    passkey: PasskeyOut
    smart_wallet_address: str | None
    payment: PaymentOut
    transfer: TransferOut | None
    parked: bool
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    history: list[StatusChangeOut]


def create_app(order: dict[str, object]) -> FastAPI:
    now = datetime.now(UTC)

    def view(body: OrderIn) -> OrderOut:
        return OrderOut(
            id="9a64f7c3-47d9-5896-8f83-59ba8d71e0bd",
            reference_id=body.reference_id,
            status="pending",
            pool_id=body.pool_id,
            token_symbol=body.token_symbol,
            amount_token=body.amount_token,
            min_amount_token_receive=body.min_amount_token_receive,
            price_tolerance_percent=body.price_tolerance_percent,
            fiat_currency=body.fiat_currency,
            price_fiat=body.price_fiat,
            passkey=PasskeyOut(
                credential_id=body.passkey.credential_id, public_key=body.passkey.public_key
            ),
            smart_wallet_address=body.smart_wallet_address,
            payment=PaymentOut(
                id="pay_000001",
                token="tok_000001",
                checkout_url="http://127.0.0.1:8010/checkout/pay_000001",
                status="pending",
                amount=body.price_fiat,
                currency=body.fiat_currency,
                created_at=now,
                expires_at=now,
            ),
            transfer=None,
            parked=False,
            last_error=None,
            created_at=now,
            updated_at=now,
            history=[StatusChangeOut(status="pending", at=now, reason="order created")],
        )

    stored = view(OrderIn.model_validate(order))
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.post("/api/orders", status_code=201)
    async def create(body: OrderIn) -> OrderOut:
        return view(body)

    @app.get("/api/orders/{order_id}")
    async def read(order_id: str) -> OrderOut:
        return stored

    return app
