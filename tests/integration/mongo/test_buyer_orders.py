"""Buyers on the Mongo-wire server: an order's owner, guest secret digest and cancel intent round
trip; documents stored before buyers existed still load (with no owner); a buyer's list pages in
index order, and the server's plan for it is the ``(buyer_id, created_at, _id)`` index."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongo import MongoOrderRepository, ensure_schema
from adapters.mongo.codec import order_to_document
from adapters.mongo.queries import MongoOrderQueries, filter_query, sort_spec
from application.ports.order_queries import OrderFilters, OrderSort
from application.search_orders import SearchOrders
from domain import Order, OrderRequest, Passkey, Payment, order_id_for

Db = AsyncDatabase[dict[str, Any]]
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _order(n: int, buyer: str | None, **fields: Any) -> Order:
    reference = f"ref-{buyer}-{n}"
    request = OrderRequest(
        reference_id=reference,
        pool_id="pool-1",
        token_symbol="USDC",
        amount_token=Decimal("12.5"),
        min_amount_token_receive=Decimal("12"),
        price_tolerance_percent=Decimal("1"),
        fiat_currency="EUR",
        price_fiat=Decimal("13.1"),
        passkey=Passkey(credential_id=f"cred-{n}", public_key=f"pk-{n}"),
    )
    payment = Payment(
        id=f"pay-{buyer}-{n}",
        token="tok",
        checkout_url="http://x/checkout",
        status="pending",
        amount=request.price_fiat,
        currency="EUR",
    )
    return Order.place(
        request,
        payment,
        at=T0 + timedelta(minutes=n),
        order_id=order_id_for(reference, b"k" * 32),
        buyer_id=buyer,
        **fields,
    )


async def test_owner_secret_digest_and_cancel_intent_round_trip(db: Db) -> None:
    await ensure_schema(db)
    repository = MongoOrderRepository(db)
    owned = _order(1, "alice")
    guest = _order(2, None, client_secret_hash="ab" * 32)
    await repository.add(owned)
    await repository.add(guest)

    read = await repository.get(owned.id)
    assert read is not None
    assert (read.buyer_id, read.client_secret_hash, read.cancel_requested_at) == (
        "alice",
        None,
        None,
    )
    read.request_cancel(T0 + timedelta(hours=1))
    await repository.save(read, expected_version=read.version)
    again = await repository.get(owned.id)
    assert again is not None
    assert again.cancel_requested_at == T0 + timedelta(hours=1)
    read_guest = await repository.get(guest.id)
    assert read_guest is not None
    assert (read_guest.buyer_id, read_guest.client_secret_hash) == (None, "ab" * 32)


async def test_a_document_stored_before_buyers_loads_with_no_owner(db: Db) -> None:
    await ensure_schema(db)
    old = order_to_document(_order(3, None))
    old["schema_version"] = 2
    for name in ("buyer_id", "client_secret_hash", "cancel_requested_at"):
        assert name not in old  # written only when present
    await db["orders"].insert_one(old)

    read = await MongoOrderRepository(db).get(old["_id"])

    assert read is not None
    assert (read.buyer_id, read.client_secret_hash, read.cancel_requested_at) == (None, None, None)


def _index_names(plan: object) -> set[str]:
    text = json.dumps(plan, default=str)
    return {part.split('"')[0] for part in text.split('"indexName": "')[1:]}


async def test_a_buyers_list_pages_newest_first_on_the_buyer_index(db: Db) -> None:
    await ensure_schema(db)
    repository = MongoOrderRepository(db)
    for n in range(5):
        await repository.add(_order(n, "alice"))
        await repository.add(_order(n, "bob"))
    search = SearchOrders(MongoOrderQueries(db))
    filters = OrderFilters(buyer_id="alice")

    first = await search.execute(filters, OrderSort(), limit=3)
    rest = await search.execute(filters, OrderSort(), cursor=first.next_cursor, limit=3)

    assert [o.reference_id for o in first.orders + rest.orders] == [
        f"ref-alice-{n}" for n in (4, 3, 2, 1, 0)
    ]
    assert rest.next_cursor is None

    explained = await db.command(
        "explain",
        {
            "find": "orders",
            "filter": filter_query(filters),
            "sort": dict(sort_spec(OrderSort())),
            "limit": 4,
        },
        verbosity="queryPlanner",
    )
    winning = explained["queryPlanner"]["winningPlan"]
    assert _index_names(winning) == {"buyer_created"}, winning
    assert "COLLSCAN" not in json.dumps(winning), winning
    # SecantusDB still plans a SORT over the scan's (already ordered) entries; MongoDB serves an
    # equality prefix followed by the sort keys in index order.
