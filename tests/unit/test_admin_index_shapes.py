"""Every admin search the API allows is served by an index, derived, not listed:
the shapes come from ``OrderFilters``' declared fields (checked against the endpoint's declared
parameters), the queries from the adapter's own ``filter_query`` / ``after_query`` /
``sort_spec``, the indexes from ``adapters/mongo/schema.py``.

What "served" means, as a real mongod plans it:

- **no in-memory sort**, for every combination of filters, both sort keys, both directions, with
  and without a cursor: some usable index (its partial filter implied by the query) has keys that
  are equality-matched fields of the query, then exactly the sort (all in its direction, or all
  reversed: read backwards). ``$in`` counts as equality: mongod merges its few values in order
  (SORT_MERGE), a non-blocking plan.
- **in equality-sort-range order**, for each filter alone with the default sort (both
  directions): such an index also holds the filter's field, where ESR puts it: in the equality
  prefix (equality, ``$in``), in the sort (a range on the sort key), or after the sort (a range on
  another field, checked on index keys before any document is fetched).

``tests/integration/mongo/test_admin_plans.py`` asks the Mongo-wire server's ``explain`` for a
representative few.
"""

from __future__ import annotations

import math

import pytest

from adapters.mongo.queries import after_query, sort_spec
from adapters.mongo.schema import ORDER_INDEXES, IndexSpec
from application.ports.order_queries import OrderFilters, OrderSort, SortDirection, SortField
from entrypoints.api.admin import LIST_PARAMETERS
from tests.index_shapes import (
    DEFAULT_SORT,
    FILTER_FIELDS,
    PAGING,
    PARAMETER_OF,
    SORTS,
    VALUES,
    S,
    all_filters,
    cursor_for,
    field_of,
    in_esr_place,
    predicates,
    query_of,
    single_filters,
    sort_position,
    sorting_indexes,
)


def test_the_shapes_cover_every_filter_the_api_declares() -> None:
    assert set(VALUES) == set(FILTER_FIELDS)
    assert {PARAMETER_OF.get(f, f) for f in FILTER_FIELDS} == LIST_PARAMETERS - PAGING


def test_every_combination_in_every_order_is_read_in_index_order() -> None:
    shapes = 0
    blocking: list[str] = []
    for filters in all_filters():
        for sort in SORTS:
            for paged in (False, True):
                shapes += 1
                query = query_of(filters, sort, paged=paged)
                if not sorting_indexes(query, sort):
                    blocking.append(f"{query} sorted by {sort.tag}")
    assert not blocking, "\n".join(blocking[:20])
    # Each filter absent or with each of its values, in 4 orders, with and without a cursor.
    assert shapes == math.prod(1 + len(v) for v in VALUES.values()) * len(SORTS) * 2


@pytest.mark.parametrize("direction", list(SortDirection))
@pytest.mark.parametrize(("name", "filters"), list(single_filters()))
def test_each_filter_alone_has_an_index_in_equality_sort_range_order(
    name: str, filters: OrderFilters, direction: SortDirection
) -> None:
    sort = OrderSort(SortField.CREATED_AT, direction)
    for paged in (False, True):
        query = query_of(filters, sort, paged=paged)
        field = field_of(name)
        kind = predicates(query)[field]
        serving = [
            index.name
            for index, start in sorting_indexes(query, sort)
            if in_esr_place(index, start, field, kind, sort)
        ]
        assert serving, f"no index holds {field} ({kind}) in ESR order for {query} by {sort.tag}"


def test_the_derivation_sees_a_blocking_sort_and_a_filter_out_of_place() -> None:
    """The checks above can fail: an index-less sort and an index without the filter."""
    by_status = query_of(OrderFilters(statuses=frozenset({S.PENDING})), DEFAULT_SORT, paged=False)
    by_token = IndexSpec("orders", (("request.token_symbol", 1), ("_id", -1)), "t")
    assert sort_position(by_token, predicates(by_status), DEFAULT_SORT) is None
    created = next(i for i in ORDER_INDEXES if i.name.startswith("admin_created"))
    preds = predicates(by_status)
    start = sort_position(created, preds, DEFAULT_SORT)
    assert start == 0
    assert not in_esr_place(created, start, "status", preds["status"], DEFAULT_SORT)


def test_a_cursor_page_keeps_its_sort_key_as_the_orders_own() -> None:
    """The cursor's range is on the sort key itself: what ``after_query`` promises."""
    for sort in SORTS:
        query = after_query(cursor_for(sort))
        (field, _), _ = sort_spec(sort)
        assert predicates(query) == {field: "range"}
