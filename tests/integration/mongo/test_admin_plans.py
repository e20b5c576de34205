"""``explain`` on the Mongo-wire server for a representative few of the admin search's shapes
(the derivation over all of them: tests/unit/test_admin_index_shapes.py). On any server: no
collection scan, and the index read is one ``adapters/mongo/schema.py`` declares whose leading
key the query bounds. On a real mongod (``MONGODB_TEST_URI``), in addition: no SORT stage, and
the index is one the derivation says serves the shape in equality-sort-range order.

SecantusDB plans more simply (docs/benchmarks.md): it adds a SORT stage unless the index's keys
are exactly the sort's; for one status or a pool it picks the seed's ``{status: 1, created_at:
-1}`` / ``{id_pool: 1, created_at: -1}`` (bounded by the filter, without the ``_id`` tie-break)
over the ``admin_*`` twin; for a price range with the default sort, ``admin_price`` (bounded by
the range, then sorted); and a query holding ``$or`` (every next page: the cursor's tie-break)
it scans whole, so those shapes are checked on a real mongod only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.mongo import MongoOrderRepository
from adapters.mongo.queries import sort_spec
from adapters.mongo.schema import ORDER_INDEXES, ORDERS
from application.ports.order_queries import OrderFilters, OrderSort, SortDirection, SortField
from domain import RefundStatus
from tests.contract.mongo import fresh_database
from tests.index_shapes import S, predicates, query_of, sorting_indexes
from tests.integration.admin.book import book

pytestmark = pytest.mark.mongo

Db = Any
DESC = OrderSort()
ASC = OrderSort(SortField.CREATED_AT, SortDirection.ASC)
BY_PRICE = OrderSort(SortField.PRICE_FIAT, SortDirection.DESC)

MARCH = OrderFilters(
    created_from=datetime(2026, 3, 1, tzinfo=UTC), created_to=datetime(2026, 4, 1, tzinfo=UTC)
)
PENDING = OrderFilters(statuses=frozenset({S.PENDING}))
PRICES = OrderFilters(min_price_fiat=Decimal(5), max_price_fiat=Decimal(50))
#: SecantusDB plans a query holding ``$or`` (a cursor's tie-break) as a collection scan: the
#: next pages are checked on a real mongod only.
OR_AS_COLLSCAN = "SecantusDB plans the cursor's $or as a collection scan (mongod only)"

#: (name, filters, sort, with a cursor, the index SecantusDB reads, or why it is not checked).
SHAPES: list[tuple[str, OrderFilters, OrderSort, bool, str]] = [
    ("no filter", OrderFilters(), DESC, False, "admin_created"),
    ("no filter, ascending", OrderFilters(), ASC, False, "admin_created"),
    ("created in March", MARCH, DESC, False, "admin_created"),
    ("one status", PENDING, DESC, False, "status_1_created_at_-1"),
    (
        "two statuses",
        OrderFilters(statuses=frozenset({S.PENDING, S.COMPLETED})),
        ASC,
        False,
        "admin_status_created",
    ),
    ("a pool", OrderFilters(pool_id="pool-a"), DESC, False, "id_pool_1_created_at_-1"),
    ("a token", OrderFilters(token_symbol="USDC"), DESC, False, "admin_token_created"),
    ("a currency", OrderFilters(fiat_currency="EUR"), DESC, False, "admin_currency_created"),
    ("a price range by price", PRICES, BY_PRICE, False, "admin_price"),
    ("a price range, default sort", PRICES, DESC, False, "admin_price"),
    ("parked", OrderFilters(parked_only=True), DESC, False, "admin_parked_created"),
    (
        "a refund status",
        OrderFilters(refund_status=RefundStatus.FAILED),
        DESC,
        False,
        "admin_refund_created",
    ),
    ("no filter, next page", OrderFilters(), DESC, True, OR_AS_COLLSCAN),
    ("one status, next page", PENDING, DESC, True, OR_AS_COLLSCAN),
]


def _walk(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    if "inputStage" in plan:
        yield from _walk(plan["inputStage"])
    for child in plan.get("inputStages", []):
        yield from _walk(child)


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[Db]:
    async for database in fresh_database(mongo_uri, "pymongo", prefix="plans"):
        repository = MongoOrderRepository(database)
        for order in book():
            await repository.add(order)
        yield database


@pytest.mark.parametrize(
    ("filters", "sort", "paged", "expected"),
    [pytest.param(f, s, p, e, id=name) for name, f, s, p, e in SHAPES],
)
async def test_explain_names_an_index_that_serves_the_shape(
    db: Db, filters: OrderFilters, sort: OrderSort, paged: bool, expected: str
) -> None:
    build = await db.client["admin"].command("buildInfo")
    secantus = "secantusVersion" in build
    if secantus and expected == OR_AS_COLLSCAN:
        pytest.skip(expected)
    query = query_of(filters, sort, paged=paged)
    explained = await db[ORDERS].find(query).sort(sort_spec(sort)).limit(51).explain()
    winning = explained["queryPlanner"]["winningPlan"]
    winning = winning.get("queryPlan", winning)  # the slot-based engine nests it
    stages = list(_walk(winning))
    assert "COLLSCAN" not in {s["stage"] for s in stages}, winning
    read = {s["indexName"] for s in stages if s.get("indexName")}
    assert len(read) == 1, winning
    (name,) = read
    index = next(i for i in ORDER_INDEXES if i.name == name)
    preds = predicates(query)
    # Bounded by the query: its leading key is constrained (or, without a filter, the sort).
    leading = index.keys[0][0]
    assert leading in preds or (not preds and leading == sort_spec(sort)[0][0]), (name, query)
    if secantus:
        assert name == expected, winning
    else:  # a real mongod: the derivation's verdict, without an in-memory sort
        assert "SORT" not in {s["stage"] for s in stages}, winning
        assert name in {i.name for i, _ in sorting_indexes(query, sort)}, winning
