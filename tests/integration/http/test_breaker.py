"""The circuit breaker: a downstream that keeps failing is not called until it had time to heal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.http import CallRetryPolicy, CircuitOpen
from application.errors import PermanentDownstreamError, TransientDownstreamError
from tests.integration.http.calls import call
from tests.integration.http.harness import Adapters, SandboxControl

RESET_SECONDS = 0.3


@pytest.fixture
async def fragile(sandbox: SandboxControl) -> AsyncIterator[Adapters]:
    """Adapters whose breaker opens after two failed attempts, one attempt per call."""
    made = Adapters(
        sandbox.url,
        retry=CallRetryPolicy(attempts=1),
        breaker_threshold=2,
        breaker_reset_seconds=RESET_SECONDS,
    )
    try:
        yield made
    finally:
        await made.aclose()


async def test_the_circuit_opens_then_closes(sandbox: SandboxControl, fragile: Adapters) -> None:
    await sandbox.script("send_transfer", "error", "error")
    for _ in range(2):
        with pytest.raises(TransientDownstreamError) as failed:
            await call(fragile, "send_transfer")
        assert not isinstance(failed.value, CircuitOpen)

    # Open: the call fails fast, as transient, and never reaches the service.
    with pytest.raises(CircuitOpen) as caught:
        await call(fragile, "send_transfer")
    assert isinstance(caught.value, TransientDownstreamError)
    assert await sandbox.calls("send_transfer") == 2

    await asyncio.sleep(RESET_SECONDS + 0.1)
    # Half-open: one trial call goes through; it succeeds, so the circuit closes.
    assert await call(fragile, "send_transfer") is not None
    assert await call(fragile, "get_transfer") is not None
    assert await sandbox.calls("send_transfer") == 3


async def test_a_failed_trial_call_opens_the_circuit_again(
    sandbox: SandboxControl, fragile: Adapters
) -> None:
    await sandbox.script("create_wallet", "error", "error", "error")
    for _ in range(2):
        with pytest.raises(TransientDownstreamError):
            await call(fragile, "create_wallet")
    await asyncio.sleep(RESET_SECONDS + 0.1)

    with pytest.raises(TransientDownstreamError) as trial:
        await call(fragile, "create_wallet")
    assert not isinstance(trial.value, CircuitOpen)
    with pytest.raises(CircuitOpen):
        await call(fragile, "create_wallet")
    assert await sandbox.calls("create_wallet") == 3


async def test_each_downstream_has_its_own_circuit(
    sandbox: SandboxControl, fragile: Adapters
) -> None:
    await sandbox.script("create_wallet", "error", "error")
    for _ in range(2):
        with pytest.raises(TransientDownstreamError):
            await call(fragile, "create_wallet")
    with pytest.raises(CircuitOpen):
        await call(fragile, "create_wallet")

    # The wallet service's circuit is open; the transfer service's is not.
    assert await call(fragile, "send_transfer") is not None


async def test_permanent_answers_do_not_open_the_circuit(
    sandbox: SandboxControl, fragile: Adapters
) -> None:
    await sandbox.script("send_transfer", "slippage", "slippage", "slippage")
    for _ in range(3):
        with pytest.raises(PermanentDownstreamError):
            await call(fragile, "send_transfer")
    assert await call(fragile, "send_transfer") is not None
    assert await sandbox.calls("send_transfer") == 4


async def test_retries_within_a_call_count_toward_the_circuit(sandbox: SandboxControl) -> None:
    adapters = Adapters(
        sandbox.url,
        retry=CallRetryPolicy(attempts=5, wait_initial=0.001, wait_max=0.001, wait_jitter=0),
        breaker_threshold=3,
        breaker_reset_seconds=30,
    )
    await sandbox.script("create_payment", "error", "error", "error", "error", "error")
    try:
        # Three failed attempts open the circuit; the fourth attempt is not sent.
        with pytest.raises(CircuitOpen):
            await call(adapters, "create_payment")
    finally:
        await adapters.aclose()
    assert await sandbox.calls("create_payment") == 3
