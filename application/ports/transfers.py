"""The token transfer service."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class TransferState(StrEnum):
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TransferRequest:
    destination: str
    pool_id: str
    token_symbol: str
    amount: Decimal
    min_amount_out: Decimal
    slippage_percent: Decimal


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    status: TransferState
    tx_signature: str | None
    amount_out: Decimal | None
    failure_reason: str | None


class TokenTransferService(Protocol):
    """Sends tokens, at most once per idempotency key."""

    async def send(self, request: TransferRequest, *, idempotency_key: str) -> Transfer:
        """Send, or return the transfer already made under this key."""

    async def find_by_key(self, idempotency_key: str) -> Transfer | None:
        """The transfer made under this key, or None if there never was one."""
