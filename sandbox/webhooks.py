"""Signed payment webhooks, delivered in the background and redelivered on any non-2xx answer."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass, field

import httpx
import stamina

log = logging.getLogger("sandbox.webhooks")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Signature`` value: ``t=<unix>,v1=<hex HMAC-SHA256 over "<t>.<body>">``.

    The sandbox's own signer, deliberately separate from the service's verifier
    (``adapters/http/webhook_signature.py``): a shared mistake would sign and verify alike."""
    digest = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    """One event's delivery, as ``GET /sandbox/payments/{id}`` shows it."""

    event_id: str
    status: str  # "sending", "delivered", "failed" or "not_configured"
    attempts: int = 0
    last_answer: str = ""
    history: list[str] = field(default_factory=list)


class _NotAccepted(Exception):
    """The service did not answer 2xx (or did not answer): deliver again later."""


@dataclass
class WebhookCounters:
    attempts: int = 0
    delivered: int = 0
    failed: int = 0


class WebhookSender:
    """Posts events to ``url`` signed with ``secret``; re-signs each attempt with a fresh
    timestamp, so a late redelivery still passes the receiver's tolerance window."""

    def __init__(self, url: str | None, secret: str | None) -> None:
        self.url = url
        self.secret = secret
        self.counters = WebhookCounters()
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def configured(self) -> bool:
        return bool(self.url and self.secret)

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)

    async def stop(self) -> None:
        await self.cancel_all()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def reset_counters(self) -> None:
        self.counters = WebhookCounters()

    def send(
        self, delivery: Delivery, body: bytes, *, max_attempts: int, backoff_seconds: float
    ) -> None:
        """Deliver in the background; the caller's answer does not wait for the service."""
        if not self.configured or self._client is None:
            delivery.status = "not_configured"
            log.warning("webhook %s not sent: no webhook URL or secret", delivery.event_id)
            return
        self._start(delivery, body, None, None, max_attempts, backoff_seconds)

    def send_to(
        self,
        delivery: Delivery,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        max_attempts: int,
        backoff_seconds: float,
    ) -> None:
        """Deliver ``body`` to ``url`` with ``headers`` as they are (already signed: the
        NOWPayments IPN, whose signature covers the body alone), redelivered the same way."""
        if self._client is None:
            delivery.status = "not_configured"
            return
        self._start(delivery, body, url, headers, max_attempts, backoff_seconds)

    def _start(
        self,
        delivery: Delivery,
        body: bytes,
        url: str | None,
        headers: dict[str, str] | None,
        max_attempts: int,
        backoff_seconds: float,
    ) -> None:
        task = asyncio.create_task(
            self._deliver(
                delivery,
                body,
                max_attempts=max_attempts,
                backoff=backoff_seconds,
                url=url,
                headers=headers,
            )
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self,
        delivery: Delivery,
        body: bytes,
        *,
        max_attempts: int,
        backoff: float,
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            async for attempt in stamina.retry_context(
                on=_NotAccepted,
                attempts=max_attempts,
                timeout=None,
                wait_initial=backoff,
                wait_max=max(backoff * 32, backoff),
                wait_jitter=backoff / 2,
            ):
                with attempt:
                    await self._post(delivery, body, url, headers)
        except _NotAccepted:
            delivery.status = "failed"
            self.counters.failed += 1
            log.warning(
                "webhook %s given up after %d attempts", delivery.event_id, delivery.attempts
            )
            return
        delivery.status = "delivered"
        self.counters.delivered += 1

    async def _post(
        self, delivery: Delivery, body: bytes, url: str | None, headers: dict[str, str] | None
    ) -> None:
        assert self._client is not None
        delivery.attempts += 1
        self.counters.attempts += 1
        if url is None or headers is None:
            assert self.url is not None
            assert self.secret is not None
            url = self.url
            headers = {
                "Content-Type": "application/json",
                "X-Signature": sign(self.secret, int(time.time()), body),
            }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            delivery.last_answer = type(exc).__name__
            delivery.history.append(delivery.last_answer)
            raise _NotAccepted(delivery.last_answer) from exc
        delivery.last_answer = str(response.status_code)
        delivery.history.append(delivery.last_answer)
        if not 200 <= response.status_code < 300:
            raise _NotAccepted(delivery.last_answer)
