"""In-process fakes of every outside port. They keep the contracts' idempotency rules exactly
(docs/contracts.md), record what happened, and can be scripted to fail."""

from adapters.fakes.clock import FakeClock
from adapters.fakes.faults import AFTER_EFFECT, RECOVERABLE, Fault, FaultPlan, SimulatedCrash
from adapters.fakes.gateway import FakePaymentGateway
from adapters.fakes.scheduler import RecordingScheduler
from adapters.fakes.transfers import FakeTokenTransferService
from adapters.fakes.wallets import FakeWalletService, address_for

__all__ = [
    "AFTER_EFFECT",
    "RECOVERABLE",
    "FakeClock",
    "FakePaymentGateway",
    "FakeTokenTransferService",
    "FakeWalletService",
    "Fault",
    "FaultPlan",
    "RecordingScheduler",
    "SimulatedCrash",
    "address_for",
]
