"""Unit-test fixtures: a whole pipeline on fakes (no I/O)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.policy import OrderRetryPolicy
from testkit.pipeline import InProcessPipeline
from tests.support.jitter import FixedJitter


@pytest.fixture
def world() -> InProcessPipeline:
    # Deterministic backoff: half the ceiling plus half the jitter range (rng fixed at 0.5).
    return InProcessPipeline(
        retry_policy=OrderRetryPolicy(
            base=timedelta(seconds=4),
            cap=timedelta(minutes=1),
            max_attempts=3,
            jitter=FixedJitter(0.5),
        )
    )
