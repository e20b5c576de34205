"""The merchant's order-event webhook (docs/events.md): ``POST <ORDER_EVENTS_WEBHOOK_URL>`` with
the event as the body, ``X-Event-Id`` and ``X-Signature: t=<unix seconds>,v1=<hex>``.

One attempt per call: the relay owns retries, backoff and the give-up window, and keeps the
event's place in the order's sequence meanwhile. The body and the signature are made by the
callables the composition root passes (the API's order view, the service's HMAC signer).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx

from application.ports import Attempt, Clock, Outcome
from domain import Order, OrderEvent

#: The subscriber's name in the delivery state: stable, never the URL (which may change).
MERCHANT_WEBHOOK = "merchant_webhook"


class EventWebhookSubscriber:
    """``EventSubscriber`` over HTTP: 2xx delivered, 410 gone, anything else (an error answer,
    a timeout, a refused connection) failed, to be tried again."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        body: Callable[[OrderEvent, Order], bytes],
        signature: Callable[[int, bytes], str],
        clock: Clock,
        name: str = MERCHANT_WEBHOOK,
    ) -> None:
        self._client = client
        self._url = url
        self._body = body
        self._signature = signature
        self._clock = clock
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def deliver(self, event: OrderEvent, order: Order) -> Attempt:
        body = self._body(event, order)
        stamp = int(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Event-Id": event.id,
            "X-Signature": self._signature(stamp, body),
        }
        try:
            answer = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException:
            return Attempt(Outcome.FAILED, "timeout")
        except httpx.HTTPError as exc:
            return Attempt(Outcome.FAILED, f"{type(exc).__name__}: {exc}")
        if 200 <= answer.status_code < 300:
            return Attempt(Outcome.DELIVERED)
        if answer.status_code == 410:
            return Attempt(Outcome.GONE, "410 Gone")
        return Attempt(Outcome.FAILED, f"HTTP {answer.status_code}")


async def open_webhook_client(
    *, connect_timeout: float, read_timeout: float, max_connections: int
) -> AsyncIterator[httpx.AsyncClient]:
    """A pooled client for the webhook (no base URL, no credentials), closed on exit."""
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
    )
    try:
        yield client
    finally:
        await client.aclose()
