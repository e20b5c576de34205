"""An in-process wallet service: the address is derived from the passkey credential."""

from __future__ import annotations

import asyncio
import hashlib

from adapters.fakes.faults import FaultPlan, raise_after_effect, raise_before_effect
from application.ports import Wallet

SERVICE = "wallet_service"


def address_for(credential_id: str) -> str:
    """The smart-wallet address of a credential (the same every time)."""
    return "0x" + hashlib.sha256(credential_id.encode()).hexdigest()[:40]


class FakeWalletService:
    """Creates each credential's wallet once; later calls answer ``created: false``."""

    def __init__(self, faults: FaultPlan | None = None) -> None:
        self.faults = faults or FaultPlan()
        self.wallets: dict[str, str] = {}
        self.calls: list[str] = []

    async def create_wallet(
        self, *, credential_id: str, public_key: str, idempotency_key: str
    ) -> Wallet:
        self.calls.append(idempotency_key)
        await asyncio.sleep(0)  # a yield point, as real I/O has: lets races interleave
        fault = self.faults.next("create_wallet")
        raise_before_effect(SERVICE, fault)
        created = credential_id not in self.wallets
        address = self.wallets.setdefault(credential_id, address_for(credential_id))
        raise_after_effect(SERVICE, fault)
        return Wallet(address=address, created=created)
