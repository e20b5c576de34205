"""Who is asking: a buyer proven by their token, or a guest holding an order's client secret.

An order is visible to the buyer who owns it, or, for a guest's order, to whoever shows its
client secret; to nobody else (an operator reads through the admin API). Callers that cannot see
an order are told it does not exist, so order ids and reference ids do not leak.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from domain import Order

#: Bytes of randomness in a guest's client secret (its text is URL-safe base64, 43 characters).
CLIENT_SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class Caller:
    """A request's identity: ``buyer_id`` from a verified token, or none (a guest), with the
    client secret the guest sent, if any."""

    buyer_id: str | None = None
    client_secret: str | None = None

    @property
    def is_guest(self) -> bool:
        return self.buyer_id is None


def new_client_secret() -> str:
    """A fresh one-time client secret for a guest's order."""
    return "cs_" + secrets.token_urlsafe(CLIENT_SECRET_BYTES)


def client_secret_hash(secret: str) -> str:
    """What is stored of a client secret. The secret is random and long, so a plain SHA-256
    suffices (no password stretching): it cannot be guessed, only stolen, and the store holds
    no copy of it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def can_see(order: Order, caller: Caller) -> bool:
    """The buyer who owns ``order``, or a guest with its client secret (compared in constant
    time); an order with neither owner nor secret is an operator's only."""
    if order.buyer_id is not None:
        return caller.buyer_id is not None and hmac.compare_digest(
            caller.buyer_id.encode("utf-8"), order.buyer_id.encode("utf-8")
        )
    if order.client_secret_hash is not None and caller.client_secret is not None:
        return hmac.compare_digest(
            client_secret_hash(caller.client_secret), order.client_secret_hash
        )
    return False
