"""An operator searches orders: filters, a sort, and opaque cursors to walk the pages."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from application.errors import InvalidQuery
from application.ports.order_queries import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    OrderFilters,
    OrderQueries,
    OrderSort,
    Position,
    SortField,
)
from domain import Order

#: Bump when the cursor's content changes; an older cursor is then refused, not misread.
CURSOR_VERSION = 1
#: A cursor longer than this is not one of ours (ids are at most 128 characters).
MAX_CURSOR_LENGTH = 1024


def encode_cursor(position: Position) -> str:
    """The opaque cursor of a position: URL-safe base64 of the sort, the key and the id."""
    key = position.key
    key_text = key.astimezone(UTC).isoformat() if isinstance(key, datetime) else f"{key:f}"
    payload = {"v": CURSOR_VERSION, "s": position.sort.tag, "k": key_text, "id": position.order_id}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, sort: OrderSort) -> Position:
    """The position a cursor names, for a listing in ``sort`` order; ``InvalidQuery("cursor")``
    when it is not one of ours, or was made for another sort order."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidQuery("cursor", "is not a cursor this service issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidQuery("cursor", "is not a cursor this service issued") from None
    if (
        not isinstance(payload, dict)
        or payload.get("v") != CURSOR_VERSION
        or not all(isinstance(payload.get(k), str) for k in ("s", "k", "id"))
        or not payload["id"]
    ):
        raise InvalidQuery("cursor", "is not a cursor this service issued")
    if payload["s"] != sort.tag:
        raise InvalidQuery(
            "cursor", f"was issued for sort {payload['s']}, not {sort.tag}: start again"
        )
    return Position(sort, _key(payload["k"], sort), payload["id"])


def _key(text: str, sort: OrderSort) -> datetime | Decimal:
    if sort.field is SortField.CREATED_AT:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidQuery("cursor", "holds a malformed time") from None
        if moment.tzinfo is None:
            raise InvalidQuery("cursor", "holds a time without a timezone")
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise InvalidQuery("cursor", "holds a time out of range") from None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidQuery("cursor", "holds a malformed amount") from None
    return amount


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of orders and the cursor of the next page (None: the last page)."""

    orders: list[Order]
    next_cursor: str | None


class SearchOrders:
    """List the orders matching some filters, one page at a time. Pages follow the sort key and
    then the order id, so orders created while an operator pages never shift what they see."""

    def __init__(self, queries: OrderQueries) -> None:
        self._queries = queries

    async def execute(
        self,
        filters: OrderFilters,
        sort: OrderSort,
        *,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> SearchResult:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
        after = decode_cursor(cursor, sort) if cursor is not None else None
        page = await self._queries.search(filters, sort, after, limit)
        following = page.next_position
        return SearchResult(
            orders=page.orders,
            next_cursor=encode_cursor(following) if following is not None else None,
        )
