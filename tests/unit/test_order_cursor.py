"""Cursors of the admin search: opaque, tied to their sort order, refused when not ours; and the
filters' own checks."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from adapters.memory import InMemoryOrderRepository
from adapters.memory.queries import InMemoryOrderQueries
from application.errors import InvalidQuery
from application.ports.order_queries import (
    OrderFilters,
    OrderSort,
    Position,
    SortDirection,
    SortField,
)
from application.search_orders import SearchOrders, decode_cursor, encode_cursor

CREATED_DESC = OrderSort(SortField.CREATED_AT, SortDirection.DESC)
PRICE_ASC = OrderSort(SortField.PRICE_FIAT, SortDirection.ASC)


def _raw(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_its_position() -> None:
    moment = datetime(2026, 3, 1, 12, 30, 0, 123000, tzinfo=UTC)
    for position in (
        Position(CREATED_DESC, moment, "order-1"),
        Position(PRICE_ASC, Decimal("10.5000"), "order-2"),
        Position(PRICE_ASC, Decimal("0.0001"), "x" * 128),
    ):
        cursor = encode_cursor(position)
        assert cursor.isascii()
        assert "=" not in cursor  # URL-safe as is
        assert decode_cursor(cursor, position.sort) == position


def test_a_time_in_another_zone_is_the_same_instant() -> None:
    local = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    decoded = decode_cursor(encode_cursor(Position(CREATED_DESC, local, "o")), CREATED_DESC)
    assert decoded.key == local
    assert isinstance(decoded.key, datetime)
    assert decoded.key.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "sort",
    [
        OrderSort(SortField.CREATED_AT, SortDirection.ASC),
        OrderSort(SortField.PRICE_FIAT, SortDirection.DESC),
        PRICE_ASC,
    ],
)
def test_a_cursor_from_another_sort_order_is_refused(sort: OrderSort) -> None:
    cursor = encode_cursor(Position(CREATED_DESC, datetime(2026, 1, 1, tzinfo=UTC), "o"))
    with pytest.raises(InvalidQuery) as raised:
        decode_cursor(cursor, sort)
    assert raised.value.parameter == "cursor"
    assert "created_at:desc" in raised.value.message


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 at all!",
        "x" * 2000,
        _raw(["a", "list"]),
        _raw({"v": 2, "s": "created_at:desc", "k": "2026-01-01T00:00:00+00:00", "id": "o"}),
        _raw({"v": 1, "s": "created_at:desc", "k": "2026-01-01T00:00:00+00:00", "id": ""}),
        _raw({"v": 1, "s": "created_at:desc", "k": "2026-01-01T00:00:00+00:00"}),
        _raw({"v": 1, "s": "created_at:desc", "k": "2026-01-01T00:00:00", "id": "o"}),
        _raw({"v": 1, "s": "created_at:desc", "k": "tomorrow", "id": "o"}),
        _raw({"v": 1, "s": "created_at:desc", "k": 5, "id": "o"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_anything_but_our_cursor_is_refused_naming_the_parameter(cursor: str) -> None:
    with pytest.raises(InvalidQuery) as raised:
        decode_cursor(cursor, CREATED_DESC)
    assert raised.value.parameter == "cursor"


@pytest.mark.parametrize("key", ["NaN", "Infinity", "ten", "1e999999999999"])
def test_a_price_cursor_needs_a_finite_amount(key: str) -> None:
    with pytest.raises(InvalidQuery):
        decode_cursor(_raw({"v": 1, "s": "price_fiat:asc", "k": key, "id": "o"}), PRICE_ASC)


def test_a_position_holds_a_key_of_its_sort_field() -> None:
    with pytest.raises(InvalidQuery):
        Position(PRICE_ASC, datetime(2026, 1, 1, tzinfo=UTC), "o")
    with pytest.raises(InvalidQuery):
        Position(CREATED_DESC, Decimal(1), "o")


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        (
            {
                "created_from": datetime(2026, 2, 1, tzinfo=UTC),
                "created_to": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "created_from",
        ),
        (
            {
                "created_from": datetime(2026, 1, 1, tzinfo=UTC),
                "created_to": datetime(2026, 1, 1, tzinfo=UTC),
            },
            "created_from",
        ),
        ({"created_to": datetime(2026, 1, 1)}, "created_to"),
        ({"min_price_fiat": Decimal(5), "max_price_fiat": Decimal(4)}, "min_price_fiat"),
        ({"min_price_fiat": Decimal(-1)}, "min_price_fiat"),
        ({"max_price_fiat": Decimal("NaN")}, "max_price_fiat"),
    ],
)
def test_contradictory_filters_are_refused(kwargs: dict[str, object], parameter: str) -> None:
    with pytest.raises(InvalidQuery) as raised:
        OrderFilters(**kwargs)  # type: ignore[arg-type]
    assert raised.value.parameter == parameter


@pytest.mark.parametrize("limit", [0, -1, 201, 10_000])
async def test_the_page_size_is_bounded(limit: int) -> None:
    search = SearchOrders(InMemoryOrderQueries(InMemoryOrderRepository()))
    with pytest.raises(InvalidQuery) as raised:
        await search.execute(OrderFilters(), CREATED_DESC, limit=limit)
    assert raised.value.parameter == "limit"
    assert (await search.execute(OrderFilters(), CREATED_DESC, limit=200)).next_cursor is None
