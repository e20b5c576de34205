"""The pure domain: the Order aggregate, its statuses and the transition table. No I/O."""

from domain import grammar
from domain.errors import DomainError, InvalidOrder, InvalidTransition
from domain.events import MOVES, EventType, OrderEvent, event_id
from domain.order import (
    FAIL_STATUSES,
    IN_FLIGHT_STATUSES,
    RESUMABLE_STATUSES,
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
    replay_history,
    to_milliseconds,
)

__all__ = [
    "FAIL_STATUSES",
    "IN_FLIGHT_STATUSES",
    "MOVES",
    "RESUMABLE_STATUSES",
    "TERMINAL_STATUSES",
    "TRANSITIONS",
    "DomainError",
    "EventType",
    "InvalidOrder",
    "InvalidTransition",
    "Order",
    "OrderEvent",
    "OrderRequest",
    "OrderStatus",
    "Passkey",
    "Payment",
    "StatusChange",
    "Step",
    "TransferResult",
    "allowed_targets",
    "event_id",
    "grammar",
    "order_id_for",
    "replay_history",
    "to_milliseconds",
]
