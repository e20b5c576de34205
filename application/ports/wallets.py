"""The passkey smart-wallet service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Wallet:
    """The wallet's address; ``created`` False when it existed before this call."""

    address: str
    created: bool


class WalletService(Protocol):
    """Creates the smart wallet of a passkey; the same credential always gives the same address."""

    async def create_wallet(
        self, *, credential_id: str, public_key: str, idempotency_key: str
    ) -> Wallet:
        """Create the wallet, or return the existing one (``created`` False)."""
