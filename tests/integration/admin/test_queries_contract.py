"""One contract, two stores: ``OrderQueries`` in memory and on a Mongo-wire server give the same
pages and the same figures for the same orders, and both match facts written down from the book's
specification (not computed by the code under test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from adapters.memory import InMemoryOrderRepository
from adapters.memory.queries import InMemoryOrderQueries
from adapters.mongo import MongoOrderRepository
from adapters.mongo.queries import MongoOrderQueries
from application.order_stats import OrderStats
from application.period_stats import PeriodOrderStats
from application.ports import OrderRepository
from application.ports.order_queries import (
    OrderFilters,
    OrderQueries,
    OrderSort,
    SortDirection,
    SortField,
)
from application.search_orders import SearchOrders
from domain import OrderStatus, RefundCause, RefundStatus, order_id_for
from tests.contract.mongo import fresh_database
from tests.integration.admin.book import NOW, SPECS, T0, Spec, book, build


@pytest.fixture(
    params=[
        "memory",
        pytest.param("pymongo", marks=pytest.mark.mongo),
        pytest.param("motor", marks=pytest.mark.mongo),
    ]
)
async def store(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[OrderRepository, OrderQueries]]:
    if request.param == "memory":
        repository = InMemoryOrderRepository()
        yield repository, InMemoryOrderQueries(repository)
        return
    uri: str = request.getfixturevalue("mongo_uri")
    async for database in fresh_database(uri, request.param, prefix="admin"):
        yield MongoOrderRepository(database), MongoOrderQueries(database)


def _id(spec: Spec) -> str:
    return order_id_for(f"ref-{spec.n:02d}")


def _expected(keep: object, field: SortField, descending: bool) -> list[str]:
    assert callable(keep)
    chosen = [s for s in SPECS if keep(s)]

    def key(s: Spec) -> tuple[object, str]:
        value = s.day if field is SortField.CREATED_AT else Decimal(s.price)
        return (value, _id(s))

    return [_id(s) for s in sorted(chosen, key=key, reverse=descending)]


async def _walk(search: SearchOrders, filters: OrderFilters, sort: OrderSort) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = await search.execute(filters, sort, cursor=cursor, limit=3)
        assert len(page.orders) <= 3
        seen += [o.id for o in page.orders]
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


DESC = SortDirection.DESC
ASC = SortDirection.ASC
CASES = [
    (OrderFilters(), OrderSort(SortField.CREATED_AT, DESC), lambda s: True),
    (
        OrderFilters(statuses=frozenset({OrderStatus.COMPLETED, OrderStatus.PENDING})),
        OrderSort(SortField.CREATED_AT, ASC),
        lambda s: s.status in {OrderStatus.COMPLETED, OrderStatus.PENDING},
    ),
    # 10.50, 10.50 and 10.5 are equal amounts: the id breaks the tie, in both stores.
    (
        OrderFilters(pool_id="pool-a"),
        OrderSort(SortField.PRICE_FIAT, DESC),
        lambda s: s.pool == "pool-a",
    ),
    (
        OrderFilters(token_symbol="SOL", fiat_currency="USD"),
        OrderSort(SortField.PRICE_FIAT, ASC),
        lambda s: s.token == "SOL" and s.currency == "USD",
    ),
    (
        OrderFilters(
            created_from=T0 + timedelta(days=20),
            created_to=T0 + timedelta(days=50),
            min_price_fiat=Decimal("5"),
            max_price_fiat=Decimal("100"),
        ),
        OrderSort(SortField.CREATED_AT, DESC),
        lambda s: 20 <= s.day < 50 and Decimal(5) <= Decimal(s.price) <= Decimal(100),
    ),
    (OrderFilters(parked_only=True), OrderSort(SortField.CREATED_AT, DESC), lambda s: s.parked),
]


#: Order 99: a copy of order 1 (completed in 4 s, EUR, 10.50) created on day 79 = 2026-03-30,
#: newer than every order of the book.
LATE = replace(SPECS[0], n=99, day=79)


@pytest.fixture
async def booked(
    store: tuple[OrderRepository, OrderQueries],
) -> tuple[OrderRepository, OrderQueries]:
    """``store`` holding the book's 16 orders."""
    repository, _ = store
    for order in book():
        await repository.add(order)
    return store


async def test_each_search_walks_the_matching_orders_in_its_order(
    booked: tuple[OrderRepository, OrderQueries],
) -> None:
    search = SearchOrders(booked[1])
    for filters, sort, keep in CASES:
        expected = _expected(keep, sort.field, sort.descending)
        assert expected, "every case selects something"
        assert await _walk(search, filters, sort) == expected, (filters, sort)


async def test_a_walk_is_stable_under_inserts(
    booked: tuple[OrderRepository, OrderQueries],
) -> None:
    repository, queries = booked
    search = SearchOrders(queries)
    newest = OrderSort(SortField.CREATED_AT, DESC)
    first = await search.execute(OrderFilters(), newest, limit=5)
    await repository.add(build(LATE))  # a newer order arrives between two pages
    rest = await _walk_from(search, newest, first.next_cursor)
    assert [o.id for o in first.orders] + rest == _expected(
        lambda s: True, SortField.CREATED_AT, True
    )


async def test_the_figures_match_the_book(booked: tuple[OrderRepository, OrderQueries]) -> None:
    repository, queries = booked
    await repository.add(build(LATE))
    stats = await OrderStats(queries).execute(NOW)
    # Written down from SPECS, plus order 99 (LATE).
    assert stats.total == 17
    assert stats.counts.of(OrderStatus.COMPLETED) == 7
    assert stats.counts.of(OrderStatus.PENDING) == 2
    assert stats.counts.of(OrderStatus.FAILED_PAY) == 2
    assert stats.parked == 2
    assert stats.payment_success_rate == Decimal("0.8667")  # 13 paid / 15 decided
    assert stats.completion_rate == Decimal("0.5385")  # 7 completed / 13 paid
    # paid -> completed: 4, 6, 10, 2, 30, 8 and 4 s: avg 64/7, p95 (nearest rank 7 of 7) 30.
    assert stats.paid_to_completed_avg_seconds == Decimal("9.143")
    assert stats.paid_to_completed_p95_seconds == Decimal("30.000")
    months = {(m.month, m.currency): m for m in stats.months}
    assert set(months) == {
        ("2026-01", "EUR"),
        ("2026-01", "USD"),
        ("2026-02", "EUR"),
        ("2026-02", "USD"),
        ("2026-03", "EUR"),
        ("2026-03", "USD"),
    }
    january_eur = months[("2026-01", "EUR")]  # orders 1, 2, 4, 6: 1, 2 and 6 paid
    assert (january_eur.orders, january_eur.paid_orders) == (4, 3)
    assert january_eur.paid_volume == Decimal("63.00")
    march_eur = months[("2026-03", "EUR")]  # 13, 14 (failed), 16, 99
    assert (march_eur.orders, march_eur.paid_orders) == (4, 3)
    assert march_eur.paid_volume == Decimal("41.00")
    assert months[("2026-01", "USD")].paid_volume == Decimal("250.0001")
    assert {s: o.reference_id for s, o in stats.oldest.items()} == {
        OrderStatus.PENDING: "ref-04",
        OrderStatus.COMPLETED_PAY: "ref-11",
        OrderStatus.CREATING_WALLET: "ref-09",
        OrderStatus.CREATE_WALLET_FAIL: "ref-06",
        OrderStatus.SENDING_TOKEN_TO_SMARTWALLET: "ref-10",
        OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL: "ref-07",
    }
    assert stats.age_seconds(OrderStatus.PENDING) == Decimal(
        (NOW - (T0 + timedelta(days=2))).total_seconds()
    ).quantize(Decimal("0.001"))
    assert await queries.parked_count() == 2


async def _walk_from(search: SearchOrders, sort: OrderSort, cursor: str | None) -> list[str]:
    seen: list[str] = []
    while cursor is not None:
        page = await search.execute(OrderFilters(), sort, cursor=cursor, limit=5)
        seen += [o.id for o in page.orders]
        cursor = page.next_cursor
    return seen


async def test_the_refund_filter_and_the_period_read_agree_on_both_stores(
    store: tuple[OrderRepository, OrderQueries],
) -> None:
    repository, queries = store
    orders = book()
    for order in orders:
        if order.reference_id == "ref-14":  # failed_pay: its payment completed late
            order.request_refund(
                RefundCause.LATE_PAYMENT, Decimal("15"), "EUR", "late", order.updated_at
            )
            order.refund_answered(
                "rf_1", RefundStatus.SUCCEEDED, None, order.updated_at, recheck_at=None
            )
        await repository.add(order)
    page = await queries.search(
        OrderFilters(refund_status=RefundStatus.SUCCEEDED), OrderSort(), None, 50
    )
    assert [o.reference_id for o in page.orders] == ["ref-14"]
    none = await queries.search(
        OrderFilters(refund_status=RefundStatus.PENDING), OrderSort(), None, 50
    )
    assert none.orders == []

    everything = await PeriodOrderStats(queries).execute(T0 - timedelta(days=1), NOW)
    assert everything.orders == len(SPECS)
    assert everything.refunded == {"EUR": Decimal("15")}
    assert everything.refunds == {RefundStatus.SUCCEEDED: 1}
    early = await queries.active_between(T0 - timedelta(days=1), T0 + timedelta(days=1), 100)
    # Oldest first, ties by id: the same on both stores.
    assert [o.id for o in early] == sorted(
        (o.id for o in orders if o.created_at < T0 + timedelta(days=1)),
        key=lambda i: (next(o.created_at for o in orders if o.id == i), i),
    )
