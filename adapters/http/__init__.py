"""httpx adapters of the outside services: the payment gateway (``HttpPaymentGateway``, or
``NowPaymentsGateway`` for NOWPayments), the wallet service and the transfer service. The HTTP
contracts they speak: docs/contracts.md.

What the composition root (``entrypoints/container.py``) uses:

- ``open_client(base_url, api_key, *, connect_timeout, read_timeout, max_connections,
  pool_timeout=None, connections_per_shard=8, api_key_header=None)``: one pooled client per base
  URL, as an async generator for a ``providers.Resource`` (closed at shutdown); the key goes in
  ``Authorization: Bearer`` or, with ``api_key_header``, bare in that header (NOWPayments'
  ``x-api-key``). ``build_client(...)`` is the same without the generator.
- ``CallRetryPolicy(attempts=3, ...)``: in-process retries of one call (stamina).
- ``build_breakers(*, threshold=5, reset_after_seconds=30.0)``: one circuit-breaker factory per
  process; each adapter has its own circuit in it, named after its service.
- ``SharedBreakers(redis_url, local, *, threshold, reset_after_seconds, trial_seconds,
  key_prefix)``: the same circuits shared by every process, in Redis (atomic Lua scripts),
  ``local`` while Redis does not answer; ``await open()`` / ``await close()`` around its use
  (docs/adr/0017). Either is a ``Breakers``.
- ``HttpPaymentGateway(client, *, retry=None, breakers=None)``, likewise ``HttpWalletService`` and
  ``HttpTokenTransferService``; ``NowPaymentsGateway(client, *, pay_currency, public_base_url,
  retry=None, breakers=None)``, whose create is never retried (no idempotency key on that API).
  ``None``: the default policy, and a breaker of its own.
- ``EventWebhookSubscriber(client, url, *, body, signature, clock)`` and
  ``open_webhook_client(...)``: the merchant's order-event webhook (docs/events.md), one attempt
  per call (the relay retries).

Errors: a permanent answer raises ``PermanentDownstreamError`` at once (``IdempotencyKeyReused``
for 409 ``idempotency_key_reused``; ``RequestRefused`` for a 400/422 or a request httpx cannot
build or send) and never counts against the breaker. Transient failures are retried; when
attempts run out the last one is raised: ``DownstreamTimeout``, or a
``TransientDownstreamError`` (here: ``RateLimited``, ``DownstreamInProgress``,
``MalformedAnswer``, ``CircuitOpen``, ``PoolExhausted``). Every attempt is logged on the
``adapters.http`` logger, never with its headers (they carry the key).
"""

from adapters.http.breakers import KEY_PREFIX as BREAKER_KEY_PREFIX
from adapters.http.breakers import Breakers, SharedBreakers
from adapters.http.caller import CallRetryPolicy
from adapters.http.client import build_breakers, build_client, open_client
from adapters.http.errors import (
    CircuitOpen,
    DownstreamInProgress,
    MalformedAnswer,
    PoolExhausted,
    RateLimited,
)
from adapters.http.event_webhook import (
    MERCHANT_WEBHOOK,
    EventWebhookSubscriber,
    open_webhook_client,
)
from adapters.http.nowpayments import NowPaymentsGateway
from adapters.http.payments import HttpPaymentGateway
from adapters.http.pool import PoolShards
from adapters.http.transfers import HttpTokenTransferService
from adapters.http.wallets import HttpWalletService

__all__ = [
    "BREAKER_KEY_PREFIX",
    "MERCHANT_WEBHOOK",
    "Breakers",
    "CallRetryPolicy",
    "CircuitOpen",
    "DownstreamInProgress",
    "EventWebhookSubscriber",
    "HttpPaymentGateway",
    "HttpTokenTransferService",
    "HttpWalletService",
    "MalformedAnswer",
    "NowPaymentsGateway",
    "PoolExhausted",
    "PoolShards",
    "RateLimited",
    "SharedBreakers",
    "build_breakers",
    "build_client",
    "open_client",
    "open_webhook_client",
]
