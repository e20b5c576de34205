"""Errors raised by the domain model itself."""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error the domain raises."""


class InvalidOrder(DomainError):
    """An order (or the request that would create one) breaks an invariant."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class InvalidTransition(DomainError):
    """A status move that the transition table (or its guard) does not allow."""

    def __init__(self, order_id: str, current: str, target: str, why: str = "") -> None:
        detail = f"order {order_id}: {current} -> {target} is not allowed"
        super().__init__(f"{detail} ({why})" if why else detail)
        self.order_id = order_id
        self.current = current
        self.target = target
