"""Buyer tokens: ``Authorization: Bearer <JWT>`` from the shop's identity provider, verified with
PyJWT, its keys fetched with httpx (docs/adr/0014-buyer-identity-and-order-ids.md, docs/api.md
"Buyers"). The API's edge (``entrypoints/api/orders.py``) asks :class:`BuyerAuthenticator` who a
request comes from; ``entrypoints/api/problems.py`` answers its errors.

One kind of token per deployment, never both (no algorithm switching): RS256/ES256 with the keys
of ``JWT_JWKS_URL`` (cached; fetched again when a token names an unknown ``kid``, at most once per
:data:`MIN_REFRESH_SECONDS`) or HS256 with ``JWT_SECRET``. ``exp``, ``iss``, ``aud`` and ``sub``
are required, ``nbf`` is enforced when present. A token that fails any check is a 401 that never
says which check failed (the log does); a JWKS endpoint that cannot be reached is a 503, and only
for a ``kid`` not in the cache.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from application.buyers import Caller

log = logging.getLogger(__name__)

#: The algorithms each kind of key verifies; anything else (``none``, ``HS256`` against a JWKS,
#: ``RS256`` against a secret) is refused before a key is looked up.
ASYMMETRIC = ("RS256", "ES256")
SYMMETRIC = ("HS256",)
#: Tokens longer than this are refused unparsed (a JWT with a few claims is well under 2 KiB).
MAX_TOKEN_LENGTH = 8192
#: The longest buyer id (``sub``) accepted.
MAX_SUBJECT_LENGTH = 256
#: Clock skew tolerated on ``exp`` and ``nbf``, seconds.
LEEWAY_SECONDS = 30
#: An unknown ``kid`` fetches the key set again at most this often: a flood of made-up kids
#: costs the identity provider one request per interval, not one per token.
MIN_REFRESH_SECONDS = 10.0
#: How long a fetched key set is trusted before it is fetched again on use.
KEYS_MAX_AGE_SECONDS = 3600.0
#: Verified tokens remembered at once (at most 8 KiB each: 16 MiB at worst).
VERIFIED_CACHE_SIZE = 2048
#: The header a guest may send its order's client secret in (or ``?client_secret=``).
CLIENT_SECRET_HEADER = "x-client-secret"  # noqa: S105 - a header's name, not a secret
#: ``WWW-Authenticate`` of a 401 for a token that is missing, and for one that is not valid.
CHALLENGE = 'Bearer realm="orders"'
INVALID_CHALLENGE = 'Bearer realm="orders", error="invalid_token"'


class TokenRequired(Exception):
    """No ``Authorization: Bearer`` on an endpoint that needs a buyer (a 401)."""


class InvalidToken(Exception):
    """The token failed a check (a 401); the answer never says which."""


class IdentityUnavailable(Exception):
    """The identity provider's key set cannot be fetched (a 503)."""


class JwksKeys:
    """The identity provider's signing keys by ``kid``: fetched on first use, kept
    :data:`KEYS_MAX_AGE_SECONDS`, fetched again for an unknown ``kid`` (one fetch at a time, at most
    once per :data:`MIN_REFRESH_SECONDS`). Keys already held keep working while the endpoint is
    down."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        min_refresh_seconds: float = MIN_REFRESH_SECONDS,
        max_age_seconds: float = KEYS_MAX_AGE_SECONDS,
    ) -> None:
        self._client = client
        self._url = url
        self._min_refresh = min_refresh_seconds
        self._max_age = max_age_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named ``kid``, or None when the provider has none by that name;
        :class:`IdentityUnavailable` when it is not cached and the key set cannot be fetched."""
        now = time.monotonic()
        fresh = self._fetched_at is not None and now - self._fetched_at < self._max_age
        if fresh and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            # Another request may have fetched while this one waited.
            if (
                kid in self._keys
                and self._fetched_at is not None
                and time.monotonic() - self._fetched_at < self._max_age
            ):
                return self._keys[kid]
            recent = (
                self._fetched_at is not None
                and time.monotonic() - self._fetched_at < self._min_refresh
            )
            if not recent:
                try:
                    await self._fetch()
                except IdentityUnavailable:
                    if kid in self._keys:
                        return self._keys[kid]  # stale, but the provider is down: keep working
                    raise
            return self._keys.get(kid)

    async def _fetch(self) -> None:
        self.fetches += 1
        try:
            response = await self._client.get(self._url)
            response.raise_for_status()
            keys = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("the JWKS at %s cannot be fetched: %s", self._url, exc)
            raise IdentityUnavailable(f"JWKS: {type(exc).__name__}") from exc
        self._keys = {k.key_id: k for k in keys.keys if k.key_id and k.algorithm_name in ASYMMETRIC}
        self._fetched_at = time.monotonic()


@dataclass(frozen=True, slots=True)
class TokenRules:
    """What every buyer token must carry."""

    issuer: str
    audience: str


class BuyerTokens:
    """Verifies buyer tokens: :meth:`buyer_id` answers the ``sub`` of a valid one.

    A token that verified is remembered (up to :data:`VERIFIED_CACHE_SIZE`, the oldest
    forgotten first) with its ``sub`` and validity window, so the same browser polling its order
    pays one signature check, not one per request; a remembered token is answered only inside
    its ``nbf``..``exp`` window (with the same leeway), exactly as a fresh check would."""

    def __init__(
        self,
        rules: TokenRules,
        *,
        secret: str = "",
        jwks: JwksKeys | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if bool(secret) == (jwks is not None):
            raise ValueError("one way to verify tokens: an HS256 secret or a JWKS, not both")
        self._rules = rules
        self._secret = secret
        self._jwks = jwks
        self._algorithms = SYMMETRIC if secret else ASYMMETRIC
        self._now = now
        #: token -> (sub, valid from, valid until), leeway included.
        self._verified: dict[str, tuple[str, float, float]] = {}
        self.verifications = 0

    async def buyer_id(self, token: str) -> str:
        """The buyer a valid token names; :class:`InvalidToken` otherwise (the log says why),
        :class:`IdentityUnavailable` when its key cannot be fetched."""
        known = self._verified.get(token)
        if known is not None:
            buyer, valid_from, valid_until = known
            if valid_from <= self._now() < valid_until:
                return buyer
            del self._verified[token]
        algorithm, key = await self._key_of(token)
        self.verifications += 1
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._rules.audience,
                issuer=self._rules.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise _invalid("%s: %s", type(exc).__name__, exc) from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            raise _invalid("sub is not a string of 1 to %d characters", MAX_SUBJECT_LENGTH)
        self._remember(token, subject, claims)
        return subject

    async def _key_of(self, token: str) -> tuple[str, Any]:
        """The token's algorithm, if allowed, and the key that must have signed it."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid("longer than %d characters", MAX_TOKEN_LENGTH)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid("malformed: %s", exc) from None
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._algorithms:
            raise _invalid("algorithm %r is not allowed", algorithm)
        if self._jwks is None:
            return algorithm, self._secret
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("no kid in the header")
        key = await self._jwks.key(kid)
        if key is None:
            raise _invalid("no key %r in the JWKS", kid)
        return algorithm, key

    def _remember(self, token: str, subject: str, claims: Mapping[str, Any]) -> None:
        # PyJWT checked exp (required) and nbf (when present) as numbers.
        valid_from = float(claims.get("nbf", float("-inf"))) - LEEWAY_SECONDS
        valid_until = float(claims["exp"]) + LEEWAY_SECONDS
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (subject, valid_from, valid_until)


def _invalid(reason: str, *args: object) -> InvalidToken:
    log.info("buyer token refused: " + reason, *args)
    return InvalidToken("the bearer token is not valid")


def bearer_of(header: str) -> str | None:
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


class BuyerAuthenticator:
    """Who a request comes from: the buyer of a valid bearer token, else (with
    ``GUEST_CHECKOUT``) a guest with the client secret it sent, if any. No token and no guest
    checkout is :class:`TokenRequired`; a token that cannot be verified (none can be without an
    identity provider) is :class:`InvalidToken`."""

    def __init__(self, tokens: BuyerTokens | None, *, guest_checkout: bool) -> None:
        self.tokens = tokens
        self.guest_checkout = guest_checkout

    async def buyer_of(self, authorization: str) -> str:
        """The buyer of an ``Authorization`` header's valid bearer token; :class:`InvalidToken`
        otherwise, :class:`IdentityUnavailable` when its key cannot be fetched."""
        token = bearer_of(authorization)
        if token is None:
            raise _invalid("the Authorization header is not a bearer token")
        if self.tokens is None:
            raise _invalid("no identity provider is configured")
        return await self.tokens.buyer_id(token)

    async def caller(
        self,
        authorization: str | None,
        client_secret: str | None = None,
        *,
        buyer_of: Callable[[str], Awaitable[str]] | None = None,
    ) -> Caller:
        """``buyer_of`` answers a token's buyer in place of :meth:`buyer_of` (one that reuses
        this request's earlier verification)."""
        if authorization:
            return Caller(buyer_id=await (buyer_of or self.buyer_of)(authorization))
        if self.guest_checkout:
            return Caller(client_secret=client_secret or None)
        raise TokenRequired("Authorization: Bearer <buyer token> is required")


async def open_jwks_client(
    url: str | None, timeout_seconds: float
) -> AsyncIterator[httpx.AsyncClient | None]:
    """The JWKS endpoint's client, as an async-generator Resource (None without a URL)."""
    if not url:
        yield None
        return
    client = httpx.AsyncClient(
        timeout=timeout_seconds,
        headers={"Accept": "application/json", "User-Agent": "orders-service"},
        follow_redirects=False,
        trust_env=False,
    )
    try:
        yield client
    finally:
        await client.aclose()


def build_authenticator(
    *,
    issuer: str,
    audience: str,
    jwks_url: str | None,
    secret: str,
    guest_checkout: bool,
    jwks_client: httpx.AsyncClient | None,
) -> BuyerAuthenticator:
    """The authenticator of the API's settings (``JWT_*``, ``GUEST_CHECKOUT``): none verifies
    tokens without a JWKS URL or a secret (every token is then refused)."""
    rules = TokenRules(issuer=issuer, audience=audience)
    tokens: BuyerTokens | None = None
    if jwks_url and jwks_client is not None:
        tokens = BuyerTokens(rules, jwks=JwksKeys(jwks_client, jwks_url))
    elif secret:
        tokens = BuyerTokens(rules, secret=secret)
    return BuyerAuthenticator(tokens, guest_checkout=guest_checkout)


def mint_token(
    secret: str,
    *,
    subject: str,
    issuer: str,
    audience: str,
    lifetime_seconds: int = 3600,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """An HS256 buyer token (the dev stack's and the sandbox's; production tokens come from the
    shop's identity provider)."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_seconds,
        **(extra or {}),
    }
    return jwt.encode(claims, secret, algorithm="HS256")
