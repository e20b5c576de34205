"""Buyer tokens for tests: the issuer, audience and HS256 secret the test APIs trust, and tokens
signed with them (or forged in the ways a test needs)."""

from __future__ import annotations

import time
from typing import Any

import jwt

from adapters.http.buyer_tokens import mint_token

ISSUER = "https://id.test.example"
AUDIENCE = "orders-api-tests"
#: 32 bytes or more: what production would ask of it.
SECRET = "test-buyer-token-secret-0123456789abcdef"
#: The buyer most tests act as.
BUYER = "buyer-1"

#: The key of order ids in the test APIs.
ORDER_ID_KEY = "test-order-id-key-0123456789abcdefghij"

#: The settings of an API that trusts these tokens and keys order ids
#: (``Settings(**BUYER_SETTINGS, ...)``).
BUYER_SETTINGS: dict[str, Any] = {
    "jwt_issuer": ISSUER,
    "jwt_audience": AUDIENCE,
    "jwt_secret": SECRET,
    "order_id_secret": ORDER_ID_KEY,
}
#: The same, as environment variables for a subprocess.
BUYER_ENV: dict[str, str] = {
    "JWT_ISSUER": ISSUER,
    "JWT_AUDIENCE": AUDIENCE,
    "JWT_SECRET": SECRET,
    "ORDER_ID_SECRET": ORDER_ID_KEY,
}


def buyer_token(subject: str = BUYER, **claims: Any) -> str:
    """A valid token for ``subject``; ``claims`` override or add (``exp=...``, ``aud=...``)."""
    return mint_token(SECRET, subject=subject, issuer=ISSUER, audience=AUDIENCE, extra=claims)


def auth(subject: str = BUYER, **claims: Any) -> dict[str, str]:
    """The ``Authorization`` header of :func:`buyer_token`."""
    return {"Authorization": f"Bearer {buyer_token(subject, **claims)}"}


def claims_of(subject: str = BUYER, **overrides: Any) -> dict[str, Any]:
    """The claims of a valid token, for tests that sign them their own way."""
    now = int(time.time())
    return {
        "sub": subject,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }


def signed(
    claims: dict[str, Any], key: Any = SECRET, algorithm: str = "HS256", **header: Any
) -> str:
    """``claims`` signed with ``key`` and ``algorithm`` (``header`` adds fields such as ``kid``)."""
    return jwt.encode(claims, key, algorithm=algorithm, headers=header or None)
