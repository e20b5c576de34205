"""The document codec on its own (no server): exact money, UTC times, clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from bson.decimal128 import Decimal128
from hypothesis import given
from hypothesis import strategies as st

from adapters.mongo.codec import (
    document_to_order,
    money_from_bson,
    money_to_bson,
    order_to_document,
    time_from_bson,
)
from application.errors import CorruptDocument
from tests.contract.orders import new_order

finite_decimal128 = st.builds(
    lambda sign, coefficient, exponent: Decimal(f"{sign}{coefficient}E{exponent}"),
    st.sampled_from(["", "-"]),
    st.integers(min_value=0, max_value=10**34 - 1),
    st.integers(min_value=-6176, max_value=6111 - 33),
)


@given(finite_decimal128)
def test_money_decodes_exactly_as_the_driver_does(value: Decimal) -> None:
    stored = money_to_bson(value)

    decoded = money_from_bson(stored)

    assert decoded.as_tuple() == stored.to_decimal().as_tuple() == value.as_tuple()


@pytest.mark.parametrize("special", ["NaN", "Infinity", "-Infinity"])
def test_special_values_fall_back_to_the_driver(special: str) -> None:
    assert str(money_from_bson(Decimal128(special))) == str(Decimal(special))


def test_money_that_does_not_fit_a_decimal128_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError, match="exactly"):
        money_to_bson(Decimal("1." + "1" * 40))


def test_a_float_is_never_read_as_money() -> None:
    with pytest.raises(TypeError, match="Decimal128"):
        money_from_bson(12.5)


def test_naive_times_from_a_client_without_tz_aware_are_read_as_utc() -> None:
    naive = datetime(2026, 3, 1, 12, 0)
    assert time_from_bson(naive) == naive.replace(tzinfo=UTC)
    plus_two = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert time_from_bson(plus_two).tzinfo is not None
    assert time_from_bson(plus_two) == naive.replace(tzinfo=UTC)


def test_the_document_uses_the_original_schemas_field_names() -> None:
    document = order_to_document(new_order(1))

    assert document["_id"] == new_order(1).id
    assert document["reference_id"] == "ref-1"
    assert document["id_pool"] == "pool-1"
    assert document["payment"]["id"] == "pay-1"
    assert document["payment"]["token"] == "tok-1"
    assert document["request"]["reference_id"] == "ref-1"
    assert isinstance(document["request"]["amount_token"], Decimal128)
    assert {"status", "created_at", "updated_at", "version", "history", "attempts"} <= set(document)


def test_a_document_missing_a_field_is_corrupt_and_named() -> None:
    document = order_to_document(new_order(1))
    del document["payment"]

    with pytest.raises(CorruptDocument) as raised:
        document_to_order(document)

    assert raised.value.document_id == document["_id"]
    assert "payment" in raised.value.reason


def test_events_round_trip_and_a_gap_or_a_foreign_event_is_corrupt() -> None:
    order = new_order(1)
    order.mark_paid(order.created_at + timedelta(seconds=1))
    document = order_to_document(order)
    assert [e["id"] for e in document["events"]] == [f"{order.id}:1", f"{order.id}:2"]
    decoded = document_to_order(document)
    assert decoded.events == order.events
    assert decoded.new_events == []

    gap = order_to_document(order)
    del gap["events"][0]
    with pytest.raises(CorruptDocument, match=order.id):
        document_to_order(gap)
    foreign = order_to_document(order)
    foreign["events"][1]["id"] = "another-order:2"
    with pytest.raises(CorruptDocument, match="not event 2"):
        document_to_order(foreign)
    loose = order_to_document(order)
    loose["events"][1]["data"] = {"status": 1.5}
    with pytest.raises(CorruptDocument, match="plain values"):
        document_to_order(loose)


def test_an_order_stored_before_events_reads_with_none() -> None:
    document = order_to_document(new_order(1))
    del document["events"]
    assert document_to_order(document).events == []
