"""The sandbox: a simulator of the service's outside vendors (payment gateway, wallet service,
token transfer service, NOWPayments), in memory, over real HTTP, with fault knobs (docs/sandbox.md).

A product of its own, independent of the service: it imports nothing of ``domain``,
``application``, ``adapters`` or ``entrypoints`` (import-linter), so the service's HTTP adapters
are tested against a second, separately written reading of the contracts."""

from sandbox.app import create_sandbox_app
from sandbox.config import (
    ENDPOINTS,
    Endpoint,
    EndpointFaults,
    FaultKind,
    SandboxConfig,
    SandboxKnobs,
    uniform_faults,
)
from sandbox.webhooks import sign

__all__ = [
    "ENDPOINTS",
    "Endpoint",
    "EndpointFaults",
    "FaultKind",
    "SandboxConfig",
    "SandboxKnobs",
    "create_sandbox_app",
    "sign",
    "uniform_faults",
]
