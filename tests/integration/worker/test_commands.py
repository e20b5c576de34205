"""``orders-service retry`` and ``orders-service worker`` as commands."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
from dependency_injector import providers
from saq.queue.redis import RedisQueue

from adapters.saq import close_queue, make_queue
from domain import OrderStatus, Step
from entrypoints import cli
from entrypoints.commands.retry import retry_order
from entrypoints.container import Container
from entrypoints.settings import Settings
from tests.support.worker import Downstream, long_ago, running_worker


async def test_retry_unparks_a_parked_order_and_the_worker_completes_it(
    settings: Settings, queue_name: str, queue: RedisQueue, downstream: Downstream
) -> None:
    order = await downstream.paid_order("parked")
    order.mark_paid(long_ago())
    order.start_step(Step.CREATE_WALLET, long_ago())
    order.step_failed(long_ago(), "400 rejected", retry_at=None)  # parked
    await downstream.repository.save(order, expected_version=order.version)

    def configure(container: Container) -> None:
        downstream.configure(container)
        container.saq_queue_name.override(providers.Object(queue_name))

    async with running_worker(settings, queue_name, downstream):  # no sweeps: only the retry
        await asyncio.sleep(0.5)
        assert (
            await downstream.status_of(order.id) is OrderStatus.CREATE_WALLET_FAIL
        )  # parked stays put
        retried = await retry_order(settings, order.reference_id, configure=configure)
        assert not retried.parked
        assert retried.attempts_of(Step.CREATE_WALLET) == 0
        assert retried.history[-1].reason == "retry requested by an operator"
        done = await downstream.wait_for(order.id, OrderStatus.COMPLETED)
    assert done.attempts_of(Step.CREATE_WALLET) == 1
    assert len(downstream.transfers.transfers) == 1


def test_retry_of_an_unknown_order_exits_1(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in Settings.NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORDERS_MODE", "dev")
    monkeypatch.setenv("REDIS_URL", redis_url)

    assert cli.main(["retry", "no-such-reference"]) == 1
    assert "no order with reference_id 'no-such-reference'" in capsys.readouterr().err


def test_the_worker_needs_redis_even_in_dev_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in Settings.NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORDERS_MODE", "dev")

    assert cli.main(["worker"]) == 2
    assert "REDIS_URL is not set" in capsys.readouterr().err


def _other_database(redis_url: str, db: int) -> str:
    """The same Redis, another database: the real command's default queue name cannot meet
    another test's jobs there."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("db="))
        return urlunsplit(parts._replace(query=f"{query}&db={db}".lstrip("&")))
    return urlunsplit(parts._replace(path=f"/{db}"))


async def test_the_worker_command_stops_cleanly_on_sigterm(redis_url: str) -> None:
    url = _other_database(redis_url, 15)
    env = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    env["REDIS_URL"] = url
    env["ORDERS_MODE"] = "dev"
    process = subprocess.Popen(  # noqa: ASYNC220 - a child we watch with short sleeps
        [sys.executable, "-m", "entrypoints.cli", "worker", "--grace-seconds", "5"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    queue = make_queue(url)
    await queue.connect()
    try:
        for _ in range(300):  # it registers itself once started
            if process.poll() is not None or (await queue.info())["workers"]:
                break
            await asyncio.sleep(0.05)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        process.send_signal(signal.SIGTERM)
        for _ in range(200):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.05)
        _, err = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        await close_queue(queue)
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err
