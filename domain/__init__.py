"""The pure domain: the Order aggregate, its statuses and the transition table. No I/O."""

from domain import grammar
from domain.errors import DomainError, InvalidOrder, InvalidTransition
from domain.order import (
    FAIL_STATUSES,
    IN_FLIGHT_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    Order,
    OrderRequest,
    OrderStatus,
    Passkey,
    Payment,
    StatusChange,
    Step,
    TransferResult,
    allowed_targets,
    order_id_for,
    to_milliseconds,
)

__all__ = [
    "FAIL_STATUSES",
    "IN_FLIGHT_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "DomainError",
    "InvalidOrder",
    "InvalidTransition",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "Passkey",
    "Payment",
    "StatusChange",
    "Step",
    "TransferResult",
    "allowed_targets",
    "grammar",
    "order_id_for",
    "to_milliseconds",
]
