"""The worker's settings: cron expressions SAQ accepts, intervals from the service's settings."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest
from croniter import croniter

from entrypoints.settings import Settings, SettingsError
from entrypoints.worker import CronIntervals, cron_every, worker_settings


@pytest.mark.parametrize(
    ("seconds", "gaps"),
    [(1, {1}), (5, {5}), (30, {30}), (0.4, {1}), (60, {60}), (120, {120}), (7200, {7200})],
)
def test_cron_every_fires_at_the_asked_interval(seconds: float, gaps: set[int]) -> None:
    expression = cron_every(seconds)
    assert croniter.is_valid(expression)
    ticks = croniter(expression, datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC))
    times = [ticks.get_next(datetime) for _ in range(6)]
    assert {int((b - a).total_seconds()) for a, b in pairwise(times)} == gaps


def test_intervals_follow_the_settings() -> None:
    crons = CronIntervals.from_settings(
        Settings(
            pending_recheck_seconds=30, retry_backoff_base_seconds=2, stuck_step_lease_seconds=120
        )
    )
    assert crons == CronIntervals(
        pending_payments=30, due_retries=2, stuck_orders=30, refunds=2, relay_events=1
    )


def test_the_worker_settings_need_redis_and_carry_the_sweeps_and_the_relay() -> None:
    with pytest.raises(SettingsError):
        worker_settings(Settings(mode="dev"))
    built = worker_settings(Settings(redis_url="redis://127.0.0.1:6379", worker_concurrency=7))
    assert built["concurrency"] == 7
    assert sorted(c.function.__name__ for c in built["cron_jobs"]) == [
        "drive_due_refunds",
        "recheck_pending_payments",
        "relay_events",
        "resume_stuck_orders",
        "retry_due_orders",
    ]
    left_out = worker_settings(
        Settings(redis_url="redis://127.0.0.1:6379"),
        crons=CronIntervals(
            pending_payments=30,
            due_retries=None,
            stuck_orders=None,
            refunds=None,
            relay_events=None,
        ),
    )
    assert [c.function.__name__ for c in left_out["cron_jobs"]] == ["recheck_pending_payments"]
