"""Errors raised by the domain model itself."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    """Base class of every error the domain raises."""


class InvalidOrder(DomainError):
    """An order (or the request that would create one) breaks an invariant.

    ``field``/``message`` name the first broken rule; ``errors`` lists every one found, as
    ``(field, message)`` pairs, the first included."""

    def __init__(self, field: str, message: str, *, more: Sequence[tuple[str, str]] = ()) -> None:
        self.errors: tuple[tuple[str, str], ...] = ((field, message), *more)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.errors))
        self.field = field
        self.message = message

    @classmethod
    def of(cls, errors: Sequence[tuple[str, str]]) -> InvalidOrder:
        (field, message), *more = errors
        return cls(field, message, more=more)


class InvalidTransition(DomainError):
    """A status move that the transition table (or its guard) does not allow."""

    def __init__(self, order_id: str, current: str, target: str, why: str = "") -> None:
        detail = f"order {order_id}: {current} -> {target} is not allowed"
        super().__init__(f"{detail} ({why})" if why else detail)
        self.order_id = order_id
        self.current = current
        self.target = target
