"""The refund lifecycle: a record an order may carry beside its status (docs/refunds.md).

Plain Python only. An order has at most one refund, under the idempotency key
``<order id>:refund``; the refund moves only along :data:`REFUND_TRANSITIONS`. The order's own
status table is untouched: a refunded order keeps the status it had (``failed_pay`` or a parked
fail status), and its fulfilment has ended for good.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class RefundStatus(StrEnum):
    #: The intent, saved before the gateway is called (the refund's announce).
    REQUESTED = "requested"
    #: The gateway accepted the refund (its id is known) and has not settled it yet.
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: The gateway refused or failed it: final under the key; a person must look.
    FAILED = "failed"


#: Each refund status and the statuses it may move to. Code, tests and the diagram read it.
#: The gateway's first answer may already be final, so ``requested`` may skip ``pending``.
REFUND_TRANSITIONS: Mapping[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.REQUESTED: frozenset(
        {RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED}
    ),
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}

FINAL_REFUND_STATUSES = frozenset(s for s, targets in REFUND_TRANSITIONS.items() if not targets)
#: Refund statuses the worker still drives (calls or re-checks the gateway).
OPEN_REFUND_STATUSES = frozenset(REFUND_TRANSITIONS) - FINAL_REFUND_STATUSES


class RefundCause(StrEnum):
    """Why the money goes back."""

    #: The payment completed after the order had already failed (``failed_pay``).
    LATE_PAYMENT = "late_payment"
    #: The payment completed with another amount or currency than the order's price.
    AMOUNT_MISMATCH = "amount_mismatch"
    #: An operator chose to refund a parked order instead of fulfilling it.
    OPERATOR = "operator"


#: The suffix of the refund's idempotency key: ``<order id>:refund``.
REFUND_KEY_SUFFIX = "refund"


@dataclass(frozen=True, slots=True)
class Refund:
    """One order's refund: what is given back, why, and where it stands. Immutable: each move
    is a new value (``moved``)."""

    status: RefundStatus
    amount: Decimal
    currency: str
    cause: RefundCause
    #: In words, for the gateway's ``reason`` and the history.
    reason: str
    requested_at: datetime
    #: The gateway's refund id, once it answered.
    refund_id: str | None = None
    failure_reason: str | None = None
    #: Gateway calls that failed (transiently) since the last success or operator retry.
    attempts: int = 0
    last_error: str | None = None
    #: When the worker next calls or re-checks; None: nothing to do (final or parked).
    next_attempt_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_REFUND_STATUSES

    def can_move_to(self, target: RefundStatus) -> bool:
        return target in REFUND_TRANSITIONS[self.status]

    def moved(self, target: RefundStatus, **changes: object) -> Refund:
        """This refund in ``target``; ``ValueError`` for a move outside the table."""
        if not self.can_move_to(target):
            raise ValueError(f"refund {self.status.value} -> {target.value} is not allowed")
        return replace(self, status=target, **changes)  # type: ignore[arg-type]
