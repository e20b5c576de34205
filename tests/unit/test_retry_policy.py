"""Backoff: exponential, jittered, capped, and parked after the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.policy import RetryPolicy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@given(
    attempts=st.integers(min_value=0, max_value=50),
    jitter=st.floats(min_value=0, max_value=0.999999),
)
def test_the_delay_stays_between_half_the_ceiling_and_the_ceiling(
    attempts: int, jitter: float
) -> None:
    policy = RetryPolicy(base_seconds=2, max_seconds=300, max_attempts=100, rng=lambda: jitter)
    ceiling = min(300, 2 * 2 ** max(attempts - 1, 0))
    delay = policy.delay(attempts).total_seconds()
    assert ceiling / 2 <= delay <= ceiling


def test_the_delay_doubles_until_the_cap() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=8, max_attempts=100, rng=lambda: 1.0)
    assert [policy.delay(n).total_seconds() for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_after_the_last_attempt_there_is_no_next_one() -> None:
    policy = RetryPolicy(base_seconds=1, max_seconds=8, max_attempts=3, rng=lambda: 0.0)
    assert policy.next_attempt_at(2, NOW) == NOW + timedelta(seconds=1)
    assert policy.next_attempt_at(3, NOW) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"base_seconds": 0}, {"base_seconds": 10, "max_seconds": 5}, {"max_attempts": 0}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="retry"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
