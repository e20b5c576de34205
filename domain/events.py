"""Domain events: the facts the Order aggregate records as it moves (docs/events.md).

Plain Python only. Each event has a deterministic id (``<order id>:<sequence>``), the order id, a
per-order ``sequence`` (1, 2, 3 … with no gaps), a time in whole milliseconds and a small payload
of plain values (str, int, bool, None). ``data["status"]`` is the order's status after the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: A payload value: plain, so every store and wire format carries it as it is.
Value = str | int | bool | None


class EventType(StrEnum):
    """Every fact an order records, named as subscribers see them."""

    CREATED = "order.created"
    PAID = "order.paid"
    PAYMENT_FAILED = "order.payment_failed"
    #: The buyer sent less than asked (crypto gateway): ``paid_amount``, ``paid_currency``,
    #: ``pay_amount``; the order stays where it is.
    PAYMENT_UNDERPAID = "order.payment_underpaid"
    #: A step announced (its status saved before the call): ``step``, ``attempt``, ``retry``.
    STEP_STARTED = "order.step_started"
    WALLET_CREATED = "order.wallet_created"
    TOKENS_SENT = "order.tokens_sent"
    COMPLETED = "order.completed"
    STEP_FAILED = "order.step_failed"
    PARKED = "order.parked"
    RETRIED = "order.retried"
    #: A confirmed transfer delivered less than ``min_amount_token_receive`` (an alert).
    TRANSFER_SHORT = "order.transfer_short"
    #: The refund's intent is saved (before the gateway is called): ``amount``, ``currency``,
    #: ``cause``, ``reason``, ``key``.
    REFUND_REQUESTED = "order.refund_requested"
    #: The gateway accepted the refund and has not settled it: ``refund_id``.
    REFUND_PENDING = "order.refund_pending"
    REFUNDED = "order.refunded"
    REFUND_FAILED = "order.refund_failed"


#: Events about the order's refund (``data["refund"]`` is the refund's status after the event).
REFUND_EVENTS = frozenset(
    {
        EventType.REFUND_REQUESTED,
        EventType.REFUND_PENDING,
        EventType.REFUNDED,
        EventType.REFUND_FAILED,
    }
)

#: Events that move the order to the status in their ``data["status"]``.
MOVES = frozenset(
    {
        EventType.CREATED,
        EventType.PAID,
        EventType.PAYMENT_FAILED,
        EventType.STEP_STARTED,
        EventType.WALLET_CREATED,
        EventType.STEP_FAILED,
        EventType.COMPLETED,
    }
)


def event_id(order_id: str, sequence: int) -> str:
    """The id of an order's ``sequence``-th event: the same on every redelivery."""
    return f"{order_id}:{sequence}"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One recorded fact about one order."""

    id: str
    order_id: str
    sequence: int
    type: EventType
    at: datetime
    data: Mapping[str, Value]
