"""Buyer tokens over real HTTP: every forged, stale or malformed token is the same 401 (which check
failed is never said), against an HS256 secret and against a JWKS served on loopback; the JWKS is
cached, fetched again for a new ``kid``, and its outage costs only tokens with unknown kids."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from dependency_injector import providers
from litestar import Litestar, Response, get

from adapters.clock import SystemClock
from adapters.fakes import FakePaymentGateway
from adapters.http.buyer_tokens import BuyerAuthenticator, BuyerTokens, JwksKeys, TokenRules
from entrypoints.container import Container
from entrypoints.settings import Settings
from testkit.server import serve_in_loop
from tests.support.api import PROBLEM, UNLIMITED, Api, api_starter
from tests.support.buyers import AUDIENCE, BUYER_SETTINGS, ISSUER, SECRET, claims_of, signed
from tests.support.orders import order_body

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def _jwk(key: Any, kid: str, algorithm: str) -> dict[str, Any]:
    maker = jwt.algorithms.RSAAlgorithm if algorithm == "RS256" else jwt.algorithms.ECAlgorithm
    jwk: dict[str, Any] = maker.to_jwk(key.public_key(), as_dict=True)
    return jwk | {"kid": kid, "alg": algorithm, "use": "sig"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hmac_signed(claims: dict[str, Any], key: bytes, **header: Any) -> str:
    """HS256 by hand, with any bytes as the key (PyJWT refuses a PEM public key: the forger's
    library would not)."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", **header}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _forged(now: int) -> dict[str, str]:
    """Each way a token can be wrong, by name, for an API that trusts ``SECRET`` (HS256)."""
    rs256 = signed(claims_of("mallory"), RSA_KEY, "RS256", kid="rsa-1")
    header, payload, _ = signed(claims_of("mallory")).split(".")
    return {
        "expired": signed(claims_of(exp=now - 120, iat=now - 3720)),
        "not yet valid": signed(claims_of(nbf=now + 600)),
        "wrong issuer": signed(claims_of(iss="https://evil.example")),
        "wrong audience": signed(claims_of(aud="another-api")),
        "wrong signature": signed(claims_of(), "another-secret-of-enough-length-0123"),
        "alg none": jwt.encode(claims_of(), "", algorithm="none"),
        "RS256 for an HS256 API": rs256,
        "payload swapped under a valid signature": ".".join(
            [header, signed(claims_of("alice")).split(".")[1], signed(claims_of()).split(".")[2]]
        ),
        "no exp": signed({k: v for k, v in claims_of().items() if k != "exp"}),
        "no sub": signed({k: v for k, v in claims_of().items() if k != "sub"}),
        "sub not a string": signed(claims_of(sub=42)),
        "malformed": "not.a.jwt",
        "garbage": "!!!",
        "two parts": f"{header}.{payload}",
        "too long": "a" * 9000,
    }


@pytest.fixture
async def hs_api() -> AsyncIterator[Api]:
    settings = Settings(mode="dev", rate_limit_per_minute=UNLIMITED, **BUYER_SETTINGS)
    async with api_starter(settings, FakePaymentGateway(SystemClock()))() as api:
        yield api


async def _answer_to(api: Api, token: str) -> httpx.Response:
    return await api.client.get(
        "/api/orders", params={"reference_id": "x"}, headers={"Authorization": f"Bearer {token}"}
    )


async def test_every_bad_token_is_the_same_401_with_a_challenge(hs_api: Api) -> None:
    answers = {name: await _answer_to(hs_api, t) for name, t in _forged(int(time.time())).items()}
    answers["not bearer"] = await hs_api.client.get(
        "/api/orders", headers={"Authorization": f"Basic {SECRET}"}
    )
    answers["empty bearer"] = await hs_api.client.get(
        "/api/orders", headers={"Authorization": "Bearer"}
    )

    for name, answer in answers.items():
        assert answer.status_code == 401, (name, answer.text)
        assert answer.headers["content-type"] == PROBLEM, name
        assert answer.headers["www-authenticate"] == (
            'Bearer realm="orders", error="invalid_token"'
        ), name
        assert answer.json()["code"] == "invalid_token", name
    # Not a word of which check failed: every answer is the same bytes.
    assert len({a.content for a in answers.values()}) == 1
    # And a valid one passes (the order does not exist: 404, not 401).
    assert (await _answer_to(hs_api, signed(claims_of()))).status_code == 404


async def test_a_token_creates_under_its_sub_and_a_bad_one_creates_nothing(hs_api: Api) -> None:
    forged = _forged(int(time.time()))["wrong signature"]
    refused = await hs_api.client.post(
        "/api/orders", json=order_body("t-1"), headers={"Authorization": f"Bearer {forged}"}
    )
    made = await hs_api.client.post(
        "/api/orders",
        json=order_body("t-1"),
        headers={"Authorization": f"Bearer {signed(claims_of('carol'))}"},
    )

    assert refused.status_code == 401
    assert made.status_code == 201
    [stored] = hs_api.repository.all()
    assert stored.buyer_id == "carol"
    assert hs_api.gateway.create_calls == 1


# --- JWKS -----------------------------------------------------------------------------------


@dataclass
class Jwks:
    """A JWKS endpoint on loopback whose keys and health a test changes."""

    keys: list[dict[str, Any]] = field(default_factory=list)
    down: bool = False
    served: int = 0
    url: str = ""

    def app(self) -> Litestar:
        @get("/jwks.json", sync_to_thread=False)
        def jwks() -> Response[dict[str, Any]]:
            self.served += 1
            if self.down:
                return Response({"error": "down"}, status_code=503)
            return Response({"keys": self.keys})

        return Litestar([jwks])


@pytest.fixture
async def jwks() -> AsyncIterator[Jwks]:
    endpoint = Jwks(keys=[_jwk(RSA_KEY, "rsa-1", "RS256"), _jwk(EC_KEY, "ec-1", "ES256")])
    async with serve_in_loop(endpoint.app()) as url:
        endpoint.url = f"{url}/jwks.json"
        yield endpoint


@pytest.fixture
async def jwks_api(jwks: Jwks) -> AsyncIterator[Api]:
    settings = Settings(
        mode="dev",
        rate_limit_per_minute=UNLIMITED,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_url=jwks.url,
    )
    async with httpx.AsyncClient(timeout=5) as fetcher:
        # No pause between fetches for an unknown kid: the test adds a key and uses it at once.
        keys = JwksKeys(fetcher, jwks.url, min_refresh_seconds=0)
        authenticator = BuyerAuthenticator(
            BuyerTokens(TokenRules(ISSUER, AUDIENCE), jwks=keys), guest_checkout=False
        )

        def configure(container: Container) -> None:
            container.buyer_authenticator.override(providers.Object(authenticator))

        async with api_starter(settings, FakePaymentGateway(SystemClock()))(configure) as api:
            yield api


async def _status(api: Api, token: str) -> int:
    return (await _answer_to(api, token)).status_code


async def test_rs256_and_es256_tokens_of_the_jwks_are_accepted_and_forgeries_are_not(
    jwks_api: Api, jwks: Jwks
) -> None:
    assert await _status(jwks_api, signed(claims_of(), RSA_KEY, "RS256", kid="rsa-1")) == 404
    assert await _status(jwks_api, signed(claims_of(), EC_KEY, "ES256", kid="ec-1")) == 404

    forged = {
        # The RSA key's public PEM as an HMAC secret: the classic algorithm confusion.
        "HS256 with the public key": _hmac_signed(claims_of(), RSA_PUBLIC_PEM, kid="rsa-1"),
        "HS256 with a secret": signed(claims_of(), SECRET, "HS256", kid="rsa-1"),
        "ES256 under the RSA kid": signed(claims_of(), EC_KEY, "ES256", kid="rsa-1"),
        "another RSA key": signed(claims_of(), OTHER_RSA_KEY, "RS256", kid="rsa-1"),
        "no kid": signed(claims_of(), RSA_KEY, "RS256"),
        "alg none": jwt.encode(claims_of(), "", algorithm="none", headers={"kid": "rsa-1"}),
        "expired": signed(claims_of(exp=int(time.time()) - 120), RSA_KEY, "RS256", kid="rsa-1"),
        "wrong audience": signed(claims_of(aud="x"), RSA_KEY, "RS256", kid="rsa-1"),
    }
    for name, token in forged.items():
        assert await _status(jwks_api, token) == 401, name


async def test_keys_are_cached_refetched_for_a_new_kid_and_an_outage_hurts_only_new_kids(
    jwks_api: Api, jwks: Jwks
) -> None:
    first = signed(claims_of(), RSA_KEY, "RS256", kid="rsa-1")
    assert await _status(jwks_api, first) == 404
    assert await _status(jwks_api, first) == 404
    assert jwks.served == 1  # cached

    # The provider rotates in a new key: a token naming it makes the API fetch again.
    jwks.keys.append(_jwk(OTHER_RSA_KEY, "rsa-2", "RS256"))
    assert await _status(jwks_api, signed(claims_of(), OTHER_RSA_KEY, "RS256", kid="rsa-2")) == 404
    assert jwks.served == 2

    # The provider goes down: known kids keep working, an unknown one is a 503.
    jwks.down = True
    assert await _status(jwks_api, first) == 404
    unknown = await _answer_to(jwks_api, signed(claims_of(), EC_KEY, "ES256", kid="ec-new"))
    assert unknown.status_code == 503
    assert unknown.json()["code"] == "identity_provider_unavailable"
    assert "retry-after" in unknown.headers

    # Back up: a kid it does not have is a 401, not a 503.
    jwks.down = False
    assert await _status(jwks_api, signed(claims_of(), EC_KEY, "ES256", kid="ec-new")) == 401


async def test_unknown_kids_fetch_at_most_once_per_interval(jwks: Jwks) -> None:
    async with httpx.AsyncClient(timeout=5) as fetcher:
        keys = JwksKeys(fetcher, jwks.url, min_refresh_seconds=60)
        assert await keys.key("rsa-1") is not None
        for n in range(20):
            assert await keys.key(f"made-up-{n}") is None

    assert jwks.served == 1
