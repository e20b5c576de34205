"""What a buyer token costs each request: ``BuyerTokens.buyer_id`` on a valid token, per kind of
key (HS256 secret; RS256 and ES256 from a JWKS already cached), checked afresh each time, and the
same token again once remembered. CPU only, no I/O. Results: docs/benchmarks.md ("Buyer
tokens").

    python -m bench tokens [--number 2000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import time
import timeit

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapters.http.buyer_tokens import BuyerTokens, JwksKeys, TokenRules

ISSUER = "https://id.bench.example"
AUDIENCE = "orders-api"
SECRET = "bench-buyer-token-secret-0123456789abcdef"


def _claims() -> dict[str, object]:
    now = int(time.time())
    return {"sub": "buyer-1", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}


def _jwks_tokens(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> BuyerTokens:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"alg": "RS256"}
    else:
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"alg": "ES256"}
    jwk["kid"] = "k1"
    keys = JwksKeys(httpx.AsyncClient(), "http://unused.invalid/jwks.json")
    # The set as if fetched: what every request after the first finds.
    keys._keys = {"k1": jwt.PyJWK(jwk)}
    keys._fetched_at = time.monotonic()
    return BuyerTokens(TokenRules(ISSUER, AUDIENCE), jwks=keys)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_tokens")
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    cases = {
        "HS256 (JWT_SECRET)": (
            BuyerTokens(TokenRules(ISSUER, AUDIENCE), secret=SECRET),
            jwt.encode(_claims(), SECRET, algorithm="HS256"),
        ),
        "RS256 2048 (JWKS, cached)": (
            _jwks_tokens(rsa_key),
            jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "k1"}),
        ),
        "ES256 P-256 (JWKS, cached)": (
            _jwks_tokens(ec_key),
            jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "k1"}),
        ),
    }
    loop = asyncio.new_event_loop()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| token | CPU µs per check (median of runs) | min |")
    print("| --- | ---: | ---: |")
    for name, (tokens, token) in cases.items():
        assert loop.run_until_complete(tokens.buyer_id(token)) == "buyer-1"

        def check(tokens: BuyerTokens = tokens, token: str = token, fresh: bool = True) -> None:
            if fresh:
                tokens._verified.clear()
            # The coroutine never suspends with a cached key: drive it by hand, no loop cost.
            coroutine = tokens.buyer_id(token)
            try:
                coroutine.send(None)
            except StopIteration:
                return
            raise AssertionError("buyer_id suspended")

        runs = [
            t / args.number * 1e6
            for t in timeit.repeat(check, number=args.number, repeat=args.repeat)
        ]
        print(f"| {name} | {statistics.median(runs):.1f} | {min(runs):.1f} |")
        timer = timeit.Timer(functools.partial(check, fresh=False), timer=time.process_time)
        took = timer.repeat(number=args.number, repeat=args.repeat)
        runs = [t / args.number * 1e6 for t in took]
        print(f"| {name}, remembered | {statistics.median(runs):.2f} | {min(runs):.2f} |")
    loop.close()
    return 0
