"""Replays are byte-equal: the first 201, every replay and every read of an unchanged
order are the same bytes, in memory and on the Mongo-wire server; and value-equal amounts are the
same request, whatever their spelling, sequential or concurrent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from entrypoints.settings import Settings
from tests.contract.mongo import fresh_database
from tests.support.api import SECRET, UNLIMITED, Api, StartApi, api_starter
from tests.support.orders import order_body

#: An RFC 3339 time in UTC, always with exactly three fraction digits (docs/api.md).
_MS_TIME = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"')
_ANY_TIME = re.compile(r'"\d{4}-\d\d-\d\dT[^"]*"')


async def _same_bytes_everywhere(api: Api, reference_id: str) -> None:
    first = await api.create(order_body(reference_id, price_fiat="300000", amount_token="12.5"))
    assert first.status_code == 201, first.text
    replays = [
        await api.create(order_body(reference_id, price_fiat=price, amount_token=amount))
        for price, amount in [
            ("300000.00", "12.50"),
            ("300000", "12.500000"),
            ("0300000.0", "12.5"),
        ]
    ]
    order_id = first.json()["id"]
    reads = [
        await api.client.get(f"/api/orders/{order_id}"),
        await api.client.get("/api/orders", params={"reference_id": reference_id}),
    ]

    for replay in replays:
        assert replay.status_code == 201
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.content == first.content
    for read in reads:
        assert read.status_code == 200
        assert read.content == first.content
    times = _ANY_TIME.findall(first.text)
    assert times, first.text
    assert all(_MS_TIME.fullmatch(t) for t in times), times
    assert first.json()["price_fiat"] == "300000"


async def test_replays_and_reads_are_byte_equal_in_memory(start_api: StartApi) -> None:
    async with start_api() as api:
        await _same_bytes_everywhere(api, "ref-bytes")
        assert api.gateway.create_calls == 1


async def test_value_equal_spellings_sent_at_once_are_one_order(start_api: StartApi) -> None:
    async with start_api() as api:
        answers = await asyncio.gather(
            *(
                api.create(order_body("ref-at-once", price_fiat=price))
                for price in ("300000", "300000.00", "300000.0", "300000.000")
            )
        )

        assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
        assert len({a.content for a in answers}) == 1
        assert len(api.repository.all()) == 1


@pytest.fixture
async def mongo_api(mongo_uri: str) -> AsyncIterator[Api]:
    """The API on a fresh database of the session's Mongo-wire server (schema ensured first)."""
    async for database in fresh_database(mongo_uri, "pymongo", prefix="replays"):
        settings = Settings(
            mode="dev",
            mongodb_uri=mongo_uri,
            mongodb_db_name=database.name,
            payment_webhook_secrets=(SECRET,),
            rate_limit_per_minute=UNLIMITED,
        )
        async with api_starter(settings, FakePaymentGateway(SystemClock()))() as api:
            yield api


async def test_replays_and_reads_are_byte_equal_on_mongo(mongo_api: Api) -> None:
    await _same_bytes_everywhere(mongo_api, "ref-bytes-mongo")
    assert mongo_api.gateway.create_calls == 1
