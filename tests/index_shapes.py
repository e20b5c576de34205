"""The admin search's query shapes and the index checks of ESR (equality, sort, range), derived
from ``OrderFilters``, the adapter's query builders and ``adapters/mongo/schema.py``: shared by
tests/unit/test_admin_index_shapes.py and tests/integration/mongo/test_admin_plans.py."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from adapters.mongo.queries import after_query, filter_query, sort_spec
from adapters.mongo.schema import ORDER_INDEXES, IndexSpec
from application.ports.order_queries import (
    OrderFilters,
    OrderSort,
    Position,
    SortDirection,
    SortField,
)
from domain import OrderStatus
from domain.refund import RefundStatus

S = OrderStatus
#: The values each filter takes in a shape: statuses both as one value (equality) and several
#: (``$in``); every other filter one value (the shape does not depend on it).
VALUES: Mapping[str, tuple[object, ...]] = {
    "statuses": (frozenset({S.PENDING}), frozenset({S.PENDING, S.COMPLETED_PAY})),
    "pool_id": ("pool-1",),
    "token_symbol": ("USDC",),
    "fiat_currency": ("EUR",),
    "created_from": (datetime(2026, 3, 1, tzinfo=UTC),),
    "created_to": (datetime(2026, 4, 1, tzinfo=UTC),),
    "min_price_fiat": (Decimal("10"),),
    "max_price_fiat": (Decimal("100"),),
    "parked_only": (True,),
    "refund_status": (RefundStatus.FAILED,),
}
#: The endpoint's query parameter of each filter field (the others page and sort).
PARAMETER_OF = {"statuses": "status", "parked_only": "parked", "refund_status": "refund"}
PAGING = {"sort", "direction", "cursor", "limit"}
FILTER_FIELDS = [f.name for f in dataclasses.fields(OrderFilters)]
SORTS = [OrderSort(field, direction) for field in SortField for direction in SortDirection]
DEFAULT_SORT = OrderSort()

Query = dict[str, Any]


def all_filters() -> Iterator[OrderFilters]:
    """Every combination of filters (each present or not), with each of its values."""
    names = list(VALUES)
    for size in range(len(names) + 1):
        for chosen in itertools.combinations(names, size):
            for values in itertools.product(*(VALUES[n] for n in chosen)):
                yield OrderFilters(**dict(zip(chosen, values, strict=True)))  # type: ignore[arg-type]


def single_filters() -> Iterator[tuple[str, OrderFilters]]:
    for name, values in VALUES.items():
        for value in values:
            yield name, OrderFilters(**{name: value})  # type: ignore[arg-type]


def cursor_for(sort: OrderSort) -> Position:
    """A position in ``sort``: what a next page's query adds."""
    key = datetime(2026, 3, 15, tzinfo=UTC) if sort.field is SortField.CREATED_AT else Decimal("50")
    return Position(sort, key, "order-id")


def query_of(filters: OrderFilters, sort: OrderSort, *, paged: bool) -> Query:
    """The query the adapter sends (``MongoOrderQueries.search``)."""
    query = filter_query(filters)
    if paged:
        after = after_query(cursor_for(sort))
        query = {"$and": [query, after]} if query else after
    return query


def predicates(query: Query) -> dict[str, str]:
    """Each field the query constrains: ``eq`` (a value, or ``$in``) or ``range``. ``$or``
    (the cursor's tie-break) bounds no index scan and is left out."""
    found: dict[str, str] = {}
    for field, condition in query.items():
        if field == "$and":
            for part in condition:
                for name, kind in predicates(part).items():
                    found[name] = "eq" if "eq" in (kind, found.get(name)) else kind
        elif field.startswith("$"):
            continue
        elif isinstance(condition, dict) and not {"$in", "$eq"} & set(condition):
            found.setdefault(field, "range")
        else:
            found[field] = "eq"
    return found


def equal_values(query: Query) -> dict[str, Any]:
    """Each field the query matches to one value (plain, or ``$eq``)."""
    values: dict[str, Any] = {}
    for field, condition in query.items():
        if field.startswith("$"):
            continue
        if not isinstance(condition, dict):
            values[field] = condition
        elif "$eq" in condition:
            values[field] = condition["$eq"]
    for part in query.get("$and", []):
        values.update(equal_values(part))
    return values


def usable(index: IndexSpec, query: Query) -> bool:
    """A partial index is usable only when the query implies its filter: an equal value, or
    ``$exists: true`` implied by any equality on the field."""
    if index.partial_filter is None:
        return True
    values = equal_values(query)
    for field, want in index.partial_filter.items():
        if want == {"$exists": True}:
            if field not in values:
                return False
        elif isinstance(want, dict) or values.get(field, object()) != want:
            return False
    return True


def sort_position(index: IndexSpec, preds: Mapping[str, str], sort: OrderSort) -> int | None:
    """Where the sort starts in the index's keys when the index gives the sort order after an
    equality prefix (None: it cannot, mongod would sort in memory)."""
    wanted = [(field, int(direction)) for field, direction in sort_spec(sort)]
    sort_fields = {field for field, _ in wanted}
    start = 0
    while (
        start < len(index.keys)
        and index.keys[start][0] not in sort_fields
        and preds.get(index.keys[start][0]) == "eq"
    ):
        start += 1
    part = [(field, int(direction)) for field, direction in index.keys[start : start + len(wanted)]]
    if [f for f, _ in part] != [f for f, _ in wanted]:
        return None
    same = all(d == w for (_, d), (_, w) in zip(part, wanted, strict=True))
    reversed_ = all(d == -w for (_, d), (_, w) in zip(part, wanted, strict=True))
    return start if same or reversed_ else None


def sorting_indexes(query: Query, sort: OrderSort) -> list[tuple[IndexSpec, int]]:
    preds = predicates(query)
    found = []
    for index in ORDER_INDEXES:
        if usable(index, query):
            start = sort_position(index, preds, sort)
            if start is not None:
                found.append((index, start))
    return found


def field_of(filter_name: str) -> str:
    """The document field a filter constrains (its key in ``filter_query``'s answer)."""
    (field,) = filter_query(OrderFilters(**{filter_name: VALUES[filter_name][0]})).keys()  # type: ignore[arg-type]
    return field


def in_esr_place(index: IndexSpec, start: int, field: str, kind: str, sort: OrderSort) -> bool:
    """The filter's field is where ESR puts it in this index (sort starting at ``start``)."""
    keys = [k for k, _ in index.keys]
    sort_fields = [f for f, _ in sort_spec(sort)]
    if kind == "eq":
        return field in keys[:start]
    return field in sort_fields or field in keys[start + len(sort_fields) :]
