"""Timing policy of the pipeline: retry backoff, re-check intervals, leases."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; ``None`` once ``max_attempts`` are spent (park)."""

    base_seconds: float = 5.0
    max_seconds: float = 600.0
    max_attempts: int = 8
    rng: Callable[[], float] = field(default=random.random, compare=False)

    def __post_init__(self) -> None:
        if self.base_seconds <= 0 or self.max_seconds < self.base_seconds:
            raise ValueError("retry backoff needs 0 < base_seconds <= max_seconds")
        if self.max_attempts < 1:
            raise ValueError("retry max_attempts must be at least 1")

    def delay(self, attempts: int) -> timedelta:
        """The wait before attempt ``attempts + 1``: half fixed, half jitter, capped."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling / 2 + self.rng() * ceiling / 2)

    def next_attempt_at(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failed attempts, or None to park."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts)


@dataclass(frozen=True, slots=True)
class PipelineTimings:
    """How often pending payments are re-checked and when an in-flight step counts as stuck."""

    payment_recheck: timedelta = timedelta(seconds=30)
    payment_expiry_grace: timedelta = timedelta(seconds=60)
    stuck_step_lease: timedelta = timedelta(seconds=120)
    transfer_recheck: timedelta = timedelta(seconds=10)
    batch_size: int = 500
