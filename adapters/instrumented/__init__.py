"""Decorators around the ports that count and time what passes through them (Prometheus), so
the use-cases stay free of metrics: the container wraps each port once."""

from adapters.instrumented.downstream import (
    InstrumentedPaymentGateway,
    InstrumentedTokenTransferService,
    InstrumentedWalletService,
)
from adapters.instrumented.repository import InstrumentedOrderRepository

__all__ = [
    "InstrumentedOrderRepository",
    "InstrumentedPaymentGateway",
    "InstrumentedTokenTransferService",
    "InstrumentedWalletService",
]
