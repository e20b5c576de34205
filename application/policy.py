"""Timing policy of the pipeline: retry backoff, re-check intervals, leases."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class OrderRetryPolicy:
    """Exponential backoff with jitter; ``None`` once ``max_attempts`` are spent (park).

    The wait before attempt n + 1 is half of ``min(cap, base * 2 ** (n - 1))`` plus a random
    share of the other half, so retries of many orders failing together spread out."""

    base: timedelta = timedelta(seconds=5)
    cap: timedelta = timedelta(minutes=10)
    max_attempts: int = 8
    jitter: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if self.base <= timedelta(0) or self.cap < self.base:
            raise ValueError("retry backoff needs 0 < base <= cap")
        if self.max_attempts < 1:
            raise ValueError("retry max_attempts must be at least 1")

    def delay(self, attempts: int) -> timedelta:
        """The wait before attempt ``attempts + 1``: half fixed, half jitter, capped."""
        ceiling = self.base
        for _ in range(max(attempts - 1, 0)):
            if ceiling >= self.cap:
                break
            ceiling *= 2
        ceiling = min(ceiling, self.cap)
        return ceiling / 2 + ceiling * (self.jitter.random() / 2)

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
    #: How often a refund the gateway answered ``pending`` is looked up again.
    refund_recheck: timedelta = timedelta(seconds=10)
    batch_size: int = 500
