"""The sandbox: the payment gateway, wallet service and token transfer service of
shared/external-apis.md, in memory, over real HTTP, with fault knobs (see docs/sandbox.md)."""

from entrypoints.sandbox.app import create_sandbox_app
from entrypoints.sandbox.config import (
    ENDPOINTS,
    Endpoint,
    EndpointFaults,
    FaultKind,
    SandboxConfig,
    SandboxKnobs,
    uniform_faults,
)
from entrypoints.sandbox.webhooks import sign

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
