"""Unit-test fixtures: a whole pipeline on fakes (no I/O)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from application.policy import OrderRetryPolicy
from domain import OrderRequest, Passkey
from entrypoints.simulation import World


class FixedJitter(random.Random):
    """A jitter source that always draws ``value``: backoffs a test can compute."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def make_request(reference_id: str = "ref-1", **overrides: Any) -> OrderRequest:
    values: dict[str, Any] = {
        "reference_id": reference_id,
        "pool_id": "pool-1",
        "token_symbol": "USDC",
        "amount_token": Decimal("12.500000"),
        "min_amount_token_receive": Decimal("12.4"),
        "price_tolerance_percent": Decimal("1.5"),
        "fiat_currency": "EUR",
        "price_fiat": Decimal("13.10"),
        "passkey": Passkey(f"cred-{reference_id}", f"pk-{reference_id}"),
        "smart_wallet_address": None,
    }
    values.update(overrides)
    return OrderRequest(**values)


@pytest.fixture
def world() -> World:
    # Deterministic backoff: half the ceiling plus half the jitter range (rng fixed at 0.5).
    return World(
        retry_policy=OrderRetryPolicy(
            base=timedelta(seconds=4),
            cap=timedelta(minutes=1),
            max_attempts=3,
            jitter=FixedJitter(0.5),
        )
    )
