"""The sandbox (and other small servers) on loopback for the HTTP tests, and a control client.

Servers run with uvicorn in a background thread (``serve_in_thread``); adapters talk to them over
real sockets. Each test resets the sandbox and scripts its faults through ``/sandbox/*``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec

from adapters.http import (
    CallRetryPolicy,
    HttpPaymentGateway,
    HttpTokenTransferService,
    HttpWalletService,
    NowPaymentsGateway,
    build_breakers,
    build_client,
)
from sandbox import (
    Endpoint,
    EndpointFaults,
    FaultKind,
    SandboxConfig,
    SandboxKnobs,
    create_sandbox_app,
)
from testkit.server import serve_in_thread

API_KEY = "sandbox-test-key"
WEBHOOK_SECRET = "whsec_test_0123456789"
NOWPAYMENTS_API_KEY = "np-sandbox-test-key"
NOWPAYMENTS_IPN_SECRET = "np-ipn-secret-0123456789"
MERCHANT_EVENTS_SECRET = "oesec_test_0123456789"

#: Backoff small enough that retries cost nothing measurable in tests.
FAST_RETRY = CallRetryPolicy(
    attempts=3, wait_initial=0.001, wait_max=0.005, wait_jitter=0.001, max_retry_after=2.0
)
#: The client gives up reading after this; a "timeout" fault hangs longer than it. Long enough
#: that a loaded machine's ordinary answer is not taken for a hang (an extra attempt).
READ_TIMEOUT = 0.5
HANG_SECONDS = 1.2


@contextmanager
def running_sandbox(
    *, webhook_url: str | None = None, knobs: SandboxKnobs | None = None
) -> Iterator[str]:
    config = SandboxConfig(
        payment_api_key=API_KEY,
        wallet_api_key=API_KEY,
        transfer_api_key=API_KEY,
        webhook_url=webhook_url,
        webhook_secret=WEBHOOK_SECRET,
        nowpayments_api_key=NOWPAYMENTS_API_KEY,
        nowpayments_ipn_secret=NOWPAYMENTS_IPN_SECRET,
        merchant_events_secret=MERCHANT_EVENTS_SECRET,
        seed=7,
        knobs=knobs or SandboxKnobs(timeout_seconds=HANG_SECONDS),
    )
    with serve_in_thread(create_sandbox_app(config)) as url:
        yield url


class SandboxControl:
    """The test's side door into the sandbox: reset, knobs, scripted faults, counters."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.AsyncClient(base_url=url, timeout=5.0)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def reset(self) -> None:
        (await self.client.post("/sandbox/reset")).raise_for_status()

    async def configure(self, knobs: SandboxKnobs) -> None:
        answer = await self.client.put("/sandbox/config", content=msgspec.json.encode(knobs))
        answer.raise_for_status()

    async def script(self, endpoint: Endpoint, *faults: FaultKind, **knobs: Any) -> None:
        """The next calls of ``endpoint`` fail with ``faults``, one each (nothing else changes
        but the knobs given)."""
        current = msgspec.convert((await self.client.get("/sandbox/config")).json(), SandboxKnobs)
        scripted = current.faults.get(endpoint) or EndpointFaults()
        scripted.script.extend(faults)
        current.faults[endpoint] = scripted
        for name, value in knobs.items():
            setattr(current, name, value)
        await self.configure(current)

    async def stats(self) -> dict[str, Any]:
        answer = await self.client.get("/sandbox/stats")
        answer.raise_for_status()
        stats: dict[str, Any] = answer.json()
        return stats

    async def calls(self, endpoint: str) -> int:
        return int((await self.stats())["calls"].get(endpoint, 0))

    async def settle(self, payment_id: str, action: str) -> None:
        (await self.client.post(f"/sandbox/payments/{payment_id}/{action}")).raise_for_status()

    async def transfers(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = (await self.client.get("/sandbox/transfers")).json()
        return listed


class Adapters:
    """The three httpx adapters on one client (the sandbox serves all three contracts)."""

    def __init__(
        self,
        url: str,
        *,
        api_key: str = API_KEY,
        retry: CallRetryPolicy = FAST_RETRY,
        breaker_threshold: int = 50,
        breaker_reset_seconds: float = 30.0,
        read_timeout: float = READ_TIMEOUT,
        nowpayments_ipn_base: str = "http://127.0.0.1:9",
    ) -> None:
        self.client = build_client(
            url,
            api_key,
            connect_timeout=1.0,
            read_timeout=read_timeout,
            max_connections=20,
        )
        breakers = build_breakers(
            threshold=breaker_threshold, reset_after_seconds=breaker_reset_seconds
        )
        self.gateway = HttpPaymentGateway(self.client, retry=retry, breakers=breakers)
        self.wallets = HttpWalletService(self.client, retry=retry, breakers=breakers)
        self.transfers = HttpTokenTransferService(self.client, retry=retry, breakers=breakers)
        self.nowpayments_client = build_client(
            url,
            NOWPAYMENTS_API_KEY,
            connect_timeout=1.0,
            read_timeout=read_timeout,
            max_connections=20,
            api_key_header="x-api-key",
        )
        self.nowpayments = NowPaymentsGateway(
            self.nowpayments_client,
            pay_currency="sol",
            public_base_url=nowpayments_ipn_base,
            retry=retry,
            breakers=breakers,
        )

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.nowpayments_client.aclose()
