"""The token transfer service."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol


class TransferState(StrEnum):
    """Where a transfer stands: ``SUBMITTED`` may still change; the other two are final."""

    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TransferRequest:
    """What to send where: ``amount`` of ``token_symbol`` from ``pool_id`` to ``destination``;
    ``min_amount_out`` and ``slippage_percent`` bound the price the pool may give."""

    destination: str
    pool_id: str
    token_symbol: str
    amount: Decimal
    min_amount_out: Decimal
    slippage_percent: Decimal


@dataclass(frozen=True, slots=True)
class Transfer:
    """A transfer as the service reports it; ``tx_signature`` and ``amount_out`` once on chain,
    ``failure_reason`` once failed."""

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
