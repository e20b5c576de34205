"""Backoff: exponential, jittered, capped, and parked after the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.policy import OrderRetryPolicy
from tests.support.jitter import FixedJitter

NOW = datetime(2026, 1, 1, tzinfo=UTC)
S = timedelta(seconds=1)


@given(
    attempts=st.integers(min_value=0, max_value=200),
    jitter=st.floats(min_value=0, max_value=0.999999),
)
def test_the_delay_stays_between_half_the_ceiling_and_the_ceiling(
    attempts: int, jitter: float
) -> None:
    policy = OrderRetryPolicy(
        base=2 * S, cap=300 * S, max_attempts=1000, jitter=FixedJitter(jitter)
    )
    ceiling = min(300, 2 * 2 ** max(attempts - 1, 0))
    delay = policy.delay(attempts).total_seconds()
    assert ceiling / 2 <= delay <= ceiling


def test_the_delay_doubles_until_the_cap() -> None:
    policy = OrderRetryPolicy(base=S, cap=8 * S, max_attempts=100, jitter=FixedJitter(1.0))
    assert [policy.delay(n).total_seconds() for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_after_the_last_attempt_there_is_no_next_one() -> None:
    policy = OrderRetryPolicy(base=S, cap=8 * S, max_attempts=3, jitter=FixedJitter(0.0))
    assert policy.next_attempt_at(2, NOW) == NOW + timedelta(seconds=1)
    assert policy.next_attempt_at(3, NOW) is None


def test_the_default_jitter_spreads_retries() -> None:
    policy = OrderRetryPolicy(base=10 * S, cap=10 * S)
    delays = {policy.delay(1) for _ in range(50)}
    assert len(delays) > 1
    assert all(5 * S <= d <= 10 * S for d in delays)


@pytest.mark.parametrize(
    "kwargs",
    [{"base": timedelta(0)}, {"base": 10 * S, "cap": 5 * S}, {"max_attempts": 0}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="retry"):
        OrderRetryPolicy(**kwargs)  # type: ignore[arg-type]
