"""The sandbox: the payment gateway, wallet service and token transfer service of
docs/contracts.md, in memory, over real HTTP, with fault knobs (see docs/sandbox.md)."""

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
from entrypoints.sandbox.server import serve_in_thread
from entrypoints.sandbox.webhooks import sign

__all__ = [
    "ENDPOINTS",
    "Endpoint",
    "EndpointFaults",
    "FaultKind",
    "SandboxConfig",
    "SandboxKnobs",
    "create_sandbox_app",
    "serve_in_thread",
    "sign",
    "uniform_faults",
]
