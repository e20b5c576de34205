"""An acknowledged write survives a crash of the server (docs/adr/0009-durable-writes.md).

A burst of order creates and saves and webhook-log records and outcomes, all through the
adapters on a client made with the service's defaults; SIGKILL of the server right after the
last acknowledgement; restart on the same data directory; every write acknowledged so far (in
this cycle and the ones before) must be there. Five cycles.

The test can fail: ``MONGO_DURABILITY_URI_OPTIONS=journal=false`` runs it with the same write
concern minus journaling, and SecantusDB then loses acknowledged writes on the first or second
cycle (numbers in the ADR).
"""

from __future__ import annotations

import asyncio
import gc
import os
from dataclasses import dataclass, field

import pytest

from adapters.mongo import (
    MongoOrderRepository,
    MongoWebhookEventLog,
    close_client,
    ensure_schema,
    get_database,
    make_client,
)
from application.ports import WebhookEvent
from tests.contract.orders import at, new_order, paid
from tests.killable import SecantusServer

CYCLES = 5
#: Per cycle: this many orders inserted then saved once, and as many webhook events recorded
#: then given an outcome: four acknowledged writes per n, all in flight together.
BURST = 40
#: Extra URI options (empty: the service's defaults). See the module's docstring.
URI_OPTIONS = os.environ.get("MONGO_DURABILITY_URI_OPTIONS", "")
DB_NAME = "durability"


@dataclass
class Acknowledged:
    """What the server acknowledged: order id -> version, event id -> outcome."""

    orders: dict[str, int] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)


async def _burst(uri: str, cycle: int, acked: Acknowledged, server: SecantusServer) -> None:
    """Write concurrently, noting each acknowledgement as it comes, then SIGKILL the server."""
    client = make_client(uri)
    database = get_database(client, DB_NAME)
    repository = MongoOrderRepository(database)
    webhook_log = MongoWebhookEventLog(database)

    async def order_lifecycle(n: int) -> None:
        order = new_order(n)
        await repository.add(order)
        acked.orders[order.id] = 0
        await repository.save(paid(order, 1), expected_version=0)
        acked.orders[order.id] = 1

    async def webhook(n: int) -> None:
        event_id = f"evt-{n}"
        assert await webhook_log.record(
            WebhookEvent(event_id, f"pay-{n}", b"{}", at(0), "received")
        )
        acked.events[event_id] = "received"
        await webhook_log.set_outcome(event_id, "accepted")
        acked.events[event_id] = "accepted"

    try:
        if cycle == 0:
            await ensure_schema(database)
        numbers = range(cycle * BURST, (cycle + 1) * BURST)
        await asyncio.gather(*(order_lifecycle(n) for n in numbers), *(webhook(n) for n in numbers))
        server.kill()  # right after the last acknowledgement
    finally:
        await close_client(client)


async def _lost(uri: str, acked: Acknowledged) -> list[str]:
    """Every acknowledged write that is not in the database as acknowledged."""
    # The restarted server accepts connections before it has recovered its journal; on a loaded
    # machine that can outlast the service's 1 s fail-fast selection, so this reader waits longer.
    client = make_client(uri, server_selection_timeout_ms=30_000)
    database = get_database(client, DB_NAME)
    repository = MongoOrderRepository(database)
    webhook_log = MongoWebhookEventLog(database)
    lost: list[str] = []
    try:
        for order_id, version in acked.orders.items():
            stored = await repository.get(order_id)
            if stored is None or stored.version != version:
                found = "missing" if stored is None else f"version {stored.version}"
                lost.append(f"order {order_id} acknowledged at version {version}: {found}")
        for event_id, outcome in acked.events.items():
            event = await webhook_log.get(event_id)
            if event is None or event.outcome != outcome:
                found = "missing" if event is None else f"outcome {event.outcome!r}"
                lost.append(f"webhook event {event_id} acknowledged as {outcome!r}: {found}")
    finally:
        await close_client(client)
    return lost


# Closing a client whose server was SIGKILLed leaves the sockets of its pool to the collector
# (PyMongo Async closes them on OSError, not on the closed-by-peer path): collect them here, where
# their ResourceWarning is expected (as in test_faults), not in whichever test runs next.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_every_acknowledged_write_survives_a_sigkill_of_the_server(
    killable_mongo: SecantusServer,
) -> None:
    uri = killable_mongo.uri(URI_OPTIONS)
    acked = Acknowledged()
    for cycle in range(CYCLES):
        await _burst(uri, cycle, acked, killable_mongo)
        killable_mongo.start()  # same port, same data directory

        lost = await _lost(uri, acked)

        writes = 2 * len(acked.orders) + 2 * len(acked.events)
        assert not lost, (
            f"cycle {cycle + 1}/{CYCLES}: {len(lost)} acknowledged writes lost of {writes}: "
            + "; ".join(lost[:5])
        )
    assert len(acked.orders) == len(acked.events) == CYCLES * BURST
    gc.collect()
