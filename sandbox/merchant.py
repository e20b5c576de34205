"""A merchant's receiver of the service's order-event webhooks (docs/events.md), for tests,
benchmarks and the dev stack: verifies each delivery's signature with its own code (as a
merchant would, sharing nothing with the service), records events by id (deduped), and fails or
delays on the knobs ``merchant_fail_rate``, ``merchant_fail_after_rate``, ``merchant_delay_ms``.

``POST /merchant/order-events`` receives; ``GET /sandbox/merchant/events`` shows what arrived
(``GET /sandbox/merchant/stats``: the counters only); ``POST /sandbox/merchant/reset`` forgets
it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

import msgspec

#: How old (or how far ahead) a signature's timestamp may be, seconds.
TOLERANCE_SECONDS = 300


class BadSignature(ValueError):
    """The delivery is not signed with the shared secret (or too old)."""


def verify(secret: str, header: str, body: bytes, *, now: float | None = None) -> None:
    """Check ``X-Signature: t=<unix seconds>,v1=<hex>``: HMAC-SHA256 of ``<t>.<raw body>`` with
    ``secret``, the timestamp within :data:`TOLERANCE_SECONDS`. Raises :class:`BadSignature`."""
    parts = [p.strip().partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k == "t"]
    signatures = [v for k, _, v in parts if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not signatures:
        raise BadSignature("malformed X-Signature")
    moment = time.time() if now is None else now
    if abs(moment - int(stamps[0])) > TOLERANCE_SECONDS:
        raise BadSignature("timestamp outside the tolerance")
    expected = hmac.new(
        secret.encode(), stamps[0].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    if not any(hmac.compare_digest(expected, s.lower()) for s in signatures):
        raise BadSignature("signature does not match")


class OrderInEvent(msgspec.Struct):
    id: str
    status: str


class EventDataIn(msgspec.Struct):
    order: OrderInEvent


class OrderEventIn(msgspec.Struct):
    """The fields of the body the receiver checks (the rest is the order, as the API shows it)."""

    id: str
    type: str
    created_at: str
    order_id: str
    sequence: int
    data: EventDataIn


_event_in = msgspec.json.Decoder(OrderEventIn)


@dataclass
class Received:
    """One event id, as first received, and how many deliveries of it were accepted."""

    order_id: str
    sequence: int
    type: str
    status: str
    deliveries: int = 1


@dataclass
class MerchantLog:
    """What the receiver saw. ``orders`` lists each order's sequences in first-arrival order;
    ``gaps`` counts first arrivals that did not follow their predecessor."""

    events: dict[str, Received] = field(default_factory=dict)
    orders: dict[str, list[int]] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    #: Unix times of the first and the latest new event recorded (a benchmark's clock).
    first_at: float | None = None
    last_at: float | None = None

    def record(self, event: OrderEventIn) -> bool:
        """Record a verified event; False if its id was already recorded (a redelivery)."""
        seen = self.events.get(event.id)
        if seen is not None:
            seen.deliveries += 1
            self.counters["duplicates"] += 1
            return False
        self.events[event.id] = Received(
            event.order_id, event.sequence, event.type, event.data.order.status
        )
        sequences = self.orders.setdefault(event.order_id, [])
        if event.sequence != len(sequences) + 1:
            self.counters["gaps"] += 1
        sequences.append(event.sequence)
        self.counters["accepted"] += 1
        self.last_at = time.time()
        if self.first_at is None:
            self.first_at = self.last_at
        return True

    def stats(self) -> dict[str, object]:
        """The counters and the first and latest times, without the events."""
        return {
            "counters": dict(self.counters),
            "first_at": self.first_at,
            "last_at": self.last_at,
        }

    def view(self) -> dict[str, object]:
        return {
            **self.stats(),
            "events": {event_id: asdict(r) for event_id, r in self.events.items()},
            "orders": self.orders,
        }


def decode(body: bytes) -> OrderEventIn:
    """The body's event; ``ValueError`` when it is not one."""
    try:
        return _event_in.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from exc
