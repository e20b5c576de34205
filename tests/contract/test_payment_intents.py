"""The ``PaymentIntents`` contract (docs/adr/0012): in-memory and Mongo, on both drivers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from application.ports import PaymentIntents
from tests.contract.orders import at

LEASE = timedelta(seconds=60)


async def test_the_first_claim_wins_and_a_live_intent_keeps_others_out(
    payment_intents: PaymentIntents,
) -> None:
    now = at(0)
    mine = await payment_intents.claim("o-1", "ref-1", "a", now=now, lease_until=now + LEASE)
    assert mine is not None
    assert (mine.order_id, mine.reference_id, mine.owner, mine.attempt) == ("o-1", "ref-1", "a", 1)
    assert mine.lease_until == now + LEASE
    later = at(59)
    assert (
        await payment_intents.claim("o-1", "ref-1", "b", now=later, lease_until=later + LEASE)
        is None
    )
    # Another order's intent is its own.
    assert await payment_intents.claim("o-2", "ref-2", "b", now=later, lease_until=later + LEASE)


async def test_an_intent_whose_lease_ended_is_taken_over(payment_intents: PaymentIntents) -> None:
    now = at(0)
    first = await payment_intents.claim("o-1", "ref-1", "a", now=now, lease_until=now + LEASE)
    assert first is not None
    later = at(60)
    taken = await payment_intents.claim("o-1", "ref-1", "b", now=later, lease_until=later + LEASE)
    assert taken is not None
    assert (taken.owner, taken.attempt) == ("b", 2)
    # The first holder letting go now changes nothing: the intent is no longer its own.
    await payment_intents.release(first)
    assert await payment_intents.claim("o-1", "ref-1", "c", now=later, lease_until=later) is None


async def test_a_released_intent_is_free_at_once(payment_intents: PaymentIntents) -> None:
    now = at(0)
    mine = await payment_intents.claim("o-1", "ref-1", "a", now=now, lease_until=now + LEASE)
    assert mine is not None
    await payment_intents.release(mine)
    await payment_intents.release(mine)  # twice: nothing more
    again = await payment_intents.claim("o-1", "ref-1", "b", now=now, lease_until=now + LEASE)
    assert again is not None
    assert (again.owner, again.attempt) == ("b", 1)


async def test_of_fifty_racing_claims_exactly_one_wins(payment_intents: PaymentIntents) -> None:
    now = at(0)
    claims = await asyncio.gather(
        *(
            payment_intents.claim("o-1", "ref-1", f"owner-{n}", now=now, lease_until=now + LEASE)
            for n in range(50)
        )
    )
    winners = [c for c in claims if c is not None]
    assert len(winners) == 1
    assert winners[0].attempt == 1
