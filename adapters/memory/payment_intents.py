"""An in-memory ``PaymentIntents`` (one process: dev mode and tests)."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from application.ports import PaymentIntent


class InMemoryPaymentIntents:
    """Intents in a dict; each method reads and writes without awaiting in between, so the event
    loop alone makes claim and release atomic."""

    def __init__(self) -> None:
        self.intents: dict[str, PaymentIntent] = {}
        #: The latest intents taken, oldest first (tests read who held what); bounded, as the
        #: dev stack runs for days.
        self.claims: deque[PaymentIntent] = deque(maxlen=1000)

    async def claim(
        self, order_id: str, reference_id: str, owner: str, *, now: datetime, lease_until: datetime
    ) -> PaymentIntent | None:
        held = self.intents.get(order_id)
        if held is not None and held.lease_until > now:
            return None
        intent = PaymentIntent(
            order_id=order_id,
            reference_id=reference_id,
            owner=owner,
            attempt=1 if held is None else held.attempt + 1,
            lease_until=lease_until,
        )
        self.intents[order_id] = intent
        self.claims.append(intent)
        return intent

    async def release(self, intent: PaymentIntent) -> None:
        held = self.intents.get(intent.order_id)
        if held is not None and held.owner == intent.owner:
            del self.intents[intent.order_id]
