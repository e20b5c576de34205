"""Transient failures are retried with the same key, then surfaced; permanent ones at once.

Attempts are counted by the sandbox (``/sandbox/stats``), not by the client.
"""

from __future__ import annotations

import time

import pytest

from adapters.http import CallRetryPolicy, DownstreamInProgress, RateLimited
from application.errors import (
    DownstreamTimeout,
    IdempotencyKeyReused,
    PermanentDownstreamError,
    TransientDownstreamError,
)
from sandbox import Endpoint, FaultKind
from tests.integration.http.calls import ENDPOINTS, call, prepare
from tests.integration.http.harness import Adapters, SandboxControl
from tests.support.downstream_requests import payment_request

TRANSIENT: dict[FaultKind, type[TransientDownstreamError]] = {
    "error": TransientDownstreamError,
    "timeout": DownstreamTimeout,
    "rate_limit": RateLimited,
    "in_progress": DownstreamInProgress,
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("fault", list(TRANSIENT))
async def test_transient_failures_are_retried_until_an_answer(
    sandbox: SandboxControl, adapters: Adapters, endpoint: Endpoint, fault: FaultKind
) -> None:
    payment_id = await prepare(adapters, endpoint)
    await sandbox.script(endpoint, fault, fault, retry_after_seconds=0)

    await call(adapters, endpoint, payment_id)  # the third attempt gets through

    assert await sandbox.calls(endpoint) == 3


@pytest.mark.parametrize("endpoint", ["create_payment", "send_transfer"])
@pytest.mark.parametrize("fault", list(TRANSIENT))
async def test_transient_failures_surface_when_attempts_run_out(
    sandbox: SandboxControl, adapters: Adapters, endpoint: Endpoint, fault: FaultKind
) -> None:
    await sandbox.script(endpoint, fault, fault, fault, "error", retry_after_seconds=0)

    with pytest.raises(TRANSIENT[fault]) as caught:
        await call(adapters, endpoint)

    assert await sandbox.calls(endpoint) == 3  # FAST_RETRY allows three attempts
    if fault != "timeout":
        assert not isinstance(caught.value, DownstreamTimeout)


async def test_exhaustion_surfaces_the_last_failure(
    sandbox: SandboxControl, adapters: Adapters
) -> None:
    await sandbox.script("send_transfer", "timeout", "error", "timeout")
    with pytest.raises(DownstreamTimeout):
        await call(adapters, "send_transfer")
    await sandbox.script("send_transfer", "timeout", "timeout", "error")
    with pytest.raises(TransientDownstreamError) as caught:
        await call(adapters, "send_transfer")
    assert not isinstance(caught.value, DownstreamTimeout)
    assert "503" in caught.value.reason


@pytest.mark.parametrize("endpoint", ENDPOINTS)
async def test_a_rejected_call_is_not_retried(
    sandbox: SandboxControl, adapters: Adapters, endpoint: Endpoint
) -> None:
    payment_id = await prepare(adapters, endpoint)
    await sandbox.script(endpoint, "bad_request")

    with pytest.raises(PermanentDownstreamError) as caught:
        await call(adapters, endpoint, payment_id)

    assert "400 bad_request" in caught.value.reason
    assert await sandbox.calls(endpoint) == 1


async def test_slippage_is_permanent_with_the_vendors_reason(
    sandbox: SandboxControl, adapters: Adapters
) -> None:
    await sandbox.script("send_transfer", "slippage")
    with pytest.raises(PermanentDownstreamError) as caught:
        await call(adapters, "send_transfer")
    assert caught.value.service == "transfer_service"
    assert "422 slippage_exceeded" in caught.value.reason
    assert await sandbox.calls("send_transfer") == 1
    assert (await sandbox.stats())["transfers"] == 0


async def test_a_reused_key_is_refused_at_once(sandbox: SandboxControl, adapters: Adapters) -> None:
    await adapters.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    with pytest.raises(IdempotencyKeyReused):
        await adapters.gateway.create_payment(
            payment_request(amount="99.99"), idempotency_key="ref-1"
        )
    assert await sandbox.calls("create_payment") == 2
    assert (await sandbox.stats())["payment_conflicts"] == 1


async def test_an_unknown_payment_is_refused_at_once(
    sandbox: SandboxControl, adapters: Adapters
) -> None:
    with pytest.raises(PermanentDownstreamError) as caught:
        await adapters.gateway.get_payment("pay_unknown")
    assert "404 not_found" in caught.value.reason
    assert await sandbox.calls("get_payment") == 1


async def test_a_wrong_api_key_is_refused_at_once(sandbox: SandboxControl) -> None:
    adapters = Adapters(sandbox.url, api_key="not-the-key")
    try:
        with pytest.raises(PermanentDownstreamError) as caught:
            await call(adapters, "send_transfer")
    finally:
        await adapters.aclose()
    assert "401 unauthorized" in caught.value.reason
    assert await sandbox.calls("send_transfer") == 1


async def test_retry_after_is_waited(sandbox: SandboxControl, adapters: Adapters) -> None:
    await sandbox.script("create_wallet", "rate_limit", retry_after_seconds=1)

    started = time.monotonic()
    wallet = await call(adapters, "create_wallet")
    waited = time.monotonic() - started

    assert wallet is not None
    assert await sandbox.calls("create_wallet") == 2
    # The exponential backoff here is milliseconds: only Retry-After explains a second.
    assert waited >= 0.95


async def test_a_retry_after_beyond_the_limit_is_left_to_the_worker(
    sandbox: SandboxControl,
) -> None:
    adapters = Adapters(sandbox.url, retry=CallRetryPolicy(attempts=3, max_retry_after=0.5))
    await sandbox.script("create_wallet", "rate_limit", retry_after_seconds=1)
    try:
        with pytest.raises(RateLimited) as caught:
            await call(adapters, "create_wallet")
    finally:
        await adapters.aclose()
    assert caught.value.retry_after == 1.0
    assert await sandbox.calls("create_wallet") == 1
