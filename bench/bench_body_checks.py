"""What the input checks of ``POST /api/orders`` cost per request, in process (no HTTP): the raw
body checks before decoding (empty, depth, repeated keys), msgspec's decode and conversion, the
domain's request (canonical amounts and every rule), and the second pass that names every field
(error path only).

    python -m bench.bench_body_checks [--number 20000]
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable

import msgspec

from entrypoints.api.bodies import check_raw_body, too_deep
from entrypoints.api.schemas import CreateOrderBody, create_order_problems


def _body(**overrides: object) -> bytes:
    body: dict[str, object] = {
        "reference_id": "ref-1",
        "pool_id": "pool-1",
        "token_symbol": "USDC",
        "amount_token": "12.500000",
        "min_amount_token_receive": "12.4",
        "price_tolerance_percent": "1.5",
        "fiat_currency": "EUR",
        "price_fiat": "13.10",
        "passkey": {"credential_id": "cred-1", "public_key": "pk-1"},
    }
    body.update(overrides)
    return json.dumps(body).encode()


def _microseconds(run: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(run, number=number, repeat=5)) / number * 1e6


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_body_checks")
    parser.add_argument("--number", type=int, default=20000)
    args = parser.parse_args(argv)
    n = args.number
    plain = _body()
    with_wallet = _body(reference_id="ref:1", smart_wallet_address="0xabc")
    deep = b'{"a": ' + b"[" * 20000 + b"]" * 20000 + b"}"
    decoder = msgspec.json.Decoder()
    decoded = msgspec.convert(decoder.decode(plain), CreateOrderBody)
    rows = [
        ("raw checks, ordinary body (counts only)", lambda: check_raw_body(plain, CreateOrderBody)),
        (
            "raw checks, body with more colons than keys (json scan)",
            lambda: check_raw_body(with_wallet, CreateOrderBody),
        ),
        ("depth check, 20,000-deep body (refused)", lambda: too_deep(deep)),
        (
            "msgspec decode to dict + convert (Litestar's)",
            lambda: msgspec.convert(decoder.decode(plain), CreateOrderBody),
        ),
        ("to_order_request (canonical amounts, every rule)", decoded.to_order_request),
        ("second pass of {} (error path: nine fields named)", lambda: create_order_problems({})),
    ]
    print("| step | µs per request |")
    print("| --- | ---: |")
    for name, run in rows:
        print(f"| {name} | {_microseconds(run, n):.2f} |")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
