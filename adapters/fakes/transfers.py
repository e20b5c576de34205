"""An in-process token transfer service: at most one transfer per idempotency key."""

from __future__ import annotations

import asyncio
import dataclasses

from adapters.fakes.faults import Fault, FaultPlan, raise_after_effect, raise_before_effect
from application.errors import PermanentDownstreamError
from application.ports import Transfer, TransferRequest, TransferState

SERVICE = "transfer_service"


@dataclasses.dataclass(slots=True)
class StoredTransfer:
    """A transfer the fake made, under its idempotency key, with the request that made it."""

    key: str
    request: TransferRequest
    transfer: Transfer


class FakeTokenTransferService:
    """Records every transfer it makes; a second send under a key returns the first transfer
    and counts as a duplicate refused. ``confirm_immediately=False`` answers ``submitted``
    until :meth:`confirm_all`."""

    def __init__(
        self, faults: FaultPlan | None = None, *, confirm_immediately: bool = True
    ) -> None:
        self.faults = faults or FaultPlan()
        self.confirm_immediately = confirm_immediately
        self.transfers: dict[str, StoredTransfer] = {}
        self.send_calls = 0
        self.lookups = 0
        #: Lookups by key that found a transfer already made (a re-send avoided).
        self.lookup_hits = 0
        self.duplicates_refused = 0

    async def send(self, request: TransferRequest, *, idempotency_key: str) -> Transfer:
        self.send_calls += 1
        await asyncio.sleep(0)  # a yield point, as real I/O has: lets races interleave
        fault = self.faults.next("send")
        if fault is Fault.PERMANENT:
            raise PermanentDownstreamError(SERVICE, "422 slippage_exceeded (injected)")
        raise_before_effect(SERVICE, fault)
        stored = self.transfers.get(idempotency_key)
        if stored is not None:
            self.duplicates_refused += 1
        else:
            number = len(self.transfers) + 1
            status = (
                TransferState.CONFIRMED if self.confirm_immediately else TransferState.SUBMITTED
            )
            stored = StoredTransfer(
                key=idempotency_key,
                request=request,
                transfer=Transfer(
                    id=f"tr_{number:06d}",
                    status=status,
                    tx_signature=f"sig_{number:06d}" if status is TransferState.CONFIRMED else None,
                    amount_out=request.amount,
                    failure_reason=None,
                ),
            )
            self.transfers[idempotency_key] = stored
            if fault is Fault.FAILED_ON_CHAIN:
                self.fail_on_chain(idempotency_key)
            elif fault is Fault.SHORT_ON_CHAIN:
                self.deliver_short(idempotency_key)
        raise_after_effect(SERVICE, fault)
        return stored.transfer

    async def find_by_key(self, idempotency_key: str) -> Transfer | None:
        self.lookups += 1
        await asyncio.sleep(0)  # a yield point, as real I/O has: lets races interleave
        raise_before_effect(SERVICE, self.faults.next("find_by_key"))
        stored = self.transfers.get(idempotency_key)
        if stored is None:
            return None
        self.lookup_hits += 1
        return stored.transfer

    def confirm_all(self) -> None:
        for stored in self.transfers.values():
            if stored.transfer.status is TransferState.SUBMITTED:
                stored.transfer = dataclasses.replace(
                    stored.transfer,
                    status=TransferState.CONFIRMED,
                    tx_signature=f"sig_{stored.transfer.id}",
                )

    def fail_on_chain(self, idempotency_key: str, reason: str = "reverted on chain") -> Transfer:
        """The transfer under this key failed on chain (final under the key)."""
        stored = self.transfers[idempotency_key]
        stored.transfer = dataclasses.replace(
            stored.transfer,
            status=TransferState.FAILED,
            tx_signature=None,
            amount_out=None,
            failure_reason=reason,
        )
        return stored.transfer

    def deliver_short(self, idempotency_key: str) -> Transfer:
        """The transfer under this key confirmed with ``amount_out`` below its minimum."""
        stored = self.transfers[idempotency_key]
        stored.transfer = dataclasses.replace(
            stored.transfer,
            status=TransferState.CONFIRMED,
            tx_signature=stored.transfer.tx_signature or f"sig_{stored.transfer.id}",
            amount_out=stored.request.min_amount_out / 2,
        )
        return stored.transfer
