"""The read side for operators: search orders page by page, and the numbers of the whole book.

Kept apart from ``OrderRepository`` (the write side the pipeline needs): an operator's search may
use other indexes, other pages, other limits, and it never changes an order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from application.errors import InvalidQuery
from domain import TERMINAL_STATUSES, Order, OrderStatus, RefundStatus

#: The largest page an operator may ask for.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
#: Amounts a search may name: beyond these no order can match, and the stores' decimal types
#: (Decimal128: 34 digits) would have to round them.
MAX_SEARCH_AMOUNT = Decimal("1e15")
MAX_SEARCH_DECIMALS = 18
#: Non-terminal statuses, in the table's order: the ones an order can be stuck in.
OPEN_STATUSES: tuple[OrderStatus, ...] = tuple(s for s in OrderStatus if s not in TERMINAL_STATUSES)
#: Orders whose payment went through: every status after ``completed_pay``, included.
PAID_STATUSES = frozenset(
    s for s in OrderStatus if s not in {OrderStatus.PENDING, OrderStatus.FAILED_PAY}
)


def is_searchable_amount(value: Decimal) -> bool:
    """A finite, non-negative amount below ``MAX_SEARCH_AMOUNT`` with at most
    ``MAX_SEARCH_DECIMALS`` decimals: one every store can compare exactly."""
    if not value.is_finite() or value < 0 or value >= MAX_SEARCH_AMOUNT:
        return False
    exponent = value.as_tuple().exponent
    return isinstance(exponent, int) and -exponent <= MAX_SEARCH_DECIMALS


@dataclass(frozen=True, slots=True)
class OrderFilters:
    """What to look for; every filter given must match (AND). Times are UTC-aware:
    ``created_from`` inclusive, ``created_to`` exclusive; price bounds inclusive."""

    statuses: frozenset[OrderStatus] = frozenset()
    pool_id: str | None = None
    token_symbol: str | None = None
    fiat_currency: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    min_price_fiat: Decimal | None = None
    max_price_fiat: Decimal | None = None
    parked_only: bool = False
    #: Only orders whose refund is in this status.
    refund_status: RefundStatus | None = None

    def __post_init__(self) -> None:
        for name in ("created_from", "created_to"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidQuery(name, "must carry a timezone (e.g. 2026-03-01T00:00:00Z)")
        if (
            self.created_from is not None
            and self.created_to is not None
            and self.created_from >= self.created_to
        ):
            raise InvalidQuery("created_from", "must be before created_to")
        for name in ("min_price_fiat", "max_price_fiat"):
            value = getattr(self, name)
            if value is not None and not is_searchable_amount(value):
                raise InvalidQuery(
                    name,
                    f"must be an amount from 0 to below {MAX_SEARCH_AMOUNT:f} with at most "
                    f"{MAX_SEARCH_DECIMALS} decimal places",
                )
        if (
            self.min_price_fiat is not None
            and self.max_price_fiat is not None
            and self.min_price_fiat > self.max_price_fiat
        ):
            raise InvalidQuery("min_price_fiat", "must not exceed max_price_fiat")

    def matches(self, order: Order) -> bool:
        """The filters as a predicate: the in-memory reading, which the Mongo query mirrors."""
        return (
            (not self.statuses or order.status in self.statuses)
            and (self.pool_id is None or order.pool_id == self.pool_id)
            and (self.token_symbol is None or order.token_symbol == self.token_symbol)
            and (self.fiat_currency is None or order.fiat_currency == self.fiat_currency)
            and (self.created_from is None or order.created_at >= self.created_from)
            and (self.created_to is None or order.created_at < self.created_to)
            and (self.min_price_fiat is None or order.price_fiat >= self.min_price_fiat)
            and (self.max_price_fiat is None or order.price_fiat <= self.max_price_fiat)
            and (not self.parked_only or order.parked)
            and (
                self.refund_status is None
                or (order.refund is not None and order.refund.status is self.refund_status)
            )
        )


class SortField(StrEnum):
    """What a search can sort by (ties broken by order id)."""

    CREATED_AT = "created_at"
    PRICE_FIAT = "price_fiat"


class SortDirection(StrEnum):
    """Ascending or descending."""

    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class OrderSort:
    """The order of a listing; ties are broken by the order id in the same direction, so every
    position in the listing is unique and a cursor names exactly one."""

    field: SortField = SortField.CREATED_AT
    direction: SortDirection = SortDirection.DESC

    @property
    def tag(self) -> str:
        """``created_at:desc``: written into cursors, so one from another sort is refused."""
        return f"{self.field.value}:{self.direction.value}"

    @property
    def descending(self) -> bool:
        return self.direction is SortDirection.DESC


#: The value of an order's sort key: its creation time or its fiat price.
SortKey = datetime | Decimal


def sort_key_of(order: Order, sort: OrderSort) -> SortKey:
    """The value of ``order`` that ``sort`` orders by."""
    return order.created_at if sort.field is SortField.CREATED_AT else order.price_fiat


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last order's sort key and id. The next page starts after it."""

    sort: OrderSort
    key: SortKey
    order_id: str

    def __post_init__(self) -> None:
        want = datetime if self.sort.field is SortField.CREATED_AT else Decimal
        if not isinstance(self.key, want):
            raise InvalidQuery("cursor", f"does not hold a {self.sort.field.value} value")
        if isinstance(self.key, Decimal) and not is_searchable_amount(self.key):
            raise InvalidQuery("cursor", "holds an amount out of range")


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of a listing and where the next one starts (None: this was the last)."""

    orders: list[Order]
    next_position: Position | None


@dataclass(frozen=True, slots=True)
class MonthVolume:
    """Orders created in one month (UTC, ``YYYY-MM``) in one currency, and the fiat paid for
    the ones whose payment went through."""

    month: str
    currency: str
    orders: int
    paid_orders: int
    paid_volume: Decimal


@dataclass(frozen=True, slots=True)
class OldestOrder:
    """The longest-waiting order in a non-terminal status."""

    status: OrderStatus
    order_id: str
    reference_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StatusCounts:
    """How many orders are in each status, and how many of them are parked."""

    by_status: dict[OrderStatus, int] = field(default_factory=dict)
    parked: int = 0

    def of(self, status: OrderStatus) -> int:
        return self.by_status.get(status, 0)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True, slots=True)
class PaidToCompleted:
    """Times from ``completed_pay`` to ``completed`` of every completed order, whole
    milliseconds (BSON dates carry milliseconds): their count, sum and 95th percentile
    (nearest rank)."""

    count: int = 0
    total_ms: int = 0
    p95_ms: int | None = None


@dataclass(frozen=True, slots=True)
class OrderBookFigures:
    """What an ``OrderQueries`` adapter computes; ``OrderStats`` derives the rates from it, the
    same arithmetic whatever the store."""

    counts: StatusCounts
    months: list[MonthVolume]
    paid_to_completed: PaidToCompleted
    oldest: dict[OrderStatus, OldestOrder]


class OrderQueries(Protocol):
    """Read-only questions about every order, answered by the store's indexes."""

    async def search(
        self, filters: OrderFilters, sort: OrderSort, after: Position | None, limit: int
    ) -> OrderPage:
        """Up to ``limit`` orders matching ``filters`` in ``sort`` order, starting after
        ``after`` (None: from the start). Orders inserted meanwhile never shift a page."""

    async def figures(self) -> OrderBookFigures:
        """Counts per status and parked, orders and paid volume per month and currency, the
        paid → completed times, and the oldest order of each non-terminal status."""

    async def oldest_open(self) -> dict[OrderStatus, OldestOrder]:
        """The oldest order (by creation) of each non-terminal status that has any; cheap
        (one index-served read per status), for a gauge refreshed on every scrape."""

    async def parked_count(self) -> int:
        """How many orders are parked, waiting for a person."""

    async def active_between(self, start: datetime, end: datetime, limit: int) -> list[Order]:
        """Up to ``limit`` orders that can have a history line in ``[start, end)``: created
        before ``end`` and last changed at or after ``start``, oldest first."""
