"""httpx adapters of the three outside services (contracts: shared/external-apis.md).

Wiring (for ``entrypoints/container.py``): one client per base URL, as a Resource, one breaker
factory for the process, one adapter per port::

    from adapters.http import (
        HttpPaymentGateway, HttpTokenTransferService, HttpWalletService,
        RetryPolicy, build_breakers, open_client,
    )

    gateway_client = providers.Resource(
        open_client,                      # async generator: build_client(...), aclose() at shutdown
        settings.provided.payment_gateway_url,
        settings.provided.payment_gateway_api_key,
        connect_timeout=settings.provided.http_connect_timeout_seconds,
        read_timeout=settings.provided.http_read_timeout_seconds,
        max_connections=settings.provided.http_max_connections,
    )
    retry = providers.Singleton(RetryPolicy, attempts=settings.provided.http_max_attempts)
    breakers = providers.Singleton(build_breakers)   # threshold=5, reset_after_seconds=30.0
    gateway = providers.Singleton(
        HttpPaymentGateway, gateway_client, retry=retry, breakers=breakers
    )
    # likewise HttpWalletService(wallet_client, ...) and HttpTokenTransferService(...)

Signatures:

- ``build_client(base_url, api_key, *, connect_timeout, read_timeout, max_connections,
  pool_timeout=None, connections_per_shard=8) -> httpx.AsyncClient``: ``Authorization: Bearer
  <api_key>``, keep-alive connections up to ``max_connections``, held in small pools
  (``PoolShards``: httpcore's pool slows down quadratically with its size);
  ``pool_timeout`` defaults to ``connect_timeout``.
- ``open_client(...)``: the same arguments, as an async generator for ``providers.Resource``.
- ``RetryPolicy(attempts=3, wait_initial=0.2, wait_max=2.0, wait_jitter=0.2,
  max_retry_after=5.0)``: in-process retries with exponential backoff and jitter (stamina).
- ``build_breakers(*, threshold=5, reset_after_seconds=30.0) -> AsyncCircuitBreakerFactory``
  (purgatory): this process's own; each adapter has its own circuit in it, named after its
  service.
- ``SharedBreakers(redis_url, local, *, threshold, reset_after_seconds, trial_seconds)``: the
  same circuits shared by every process, in Redis (atomic Lua scripts), ``local`` while Redis
  does not answer; ``await open()`` / ``await close()`` around its use (docs/adr/0017).
- ``HttpPaymentGateway(client, *, retry=None, breakers=None)``, same for ``HttpWalletService``
  and ``HttpTokenTransferService``: ``None`` means the defaults above (a breaker of its own).
- ``NowPaymentsGateway(client, *, pay_currency, public_base_url, retry=None, breakers=None)``:
  the same port over NOWPayments (client built with ``api_key_header="x-api-key"``); its create
  is never retried in-process (no idempotency key on that API; docs/nowpayments.md).

Errors: permanent answers raise ``PermanentDownstreamError`` (``IdempotencyKeyReused`` for 409
``idempotency_key_reused``; ``RequestRefused`` for a 400/422, and for a request httpx cannot build
or send, such as a header value with a line break) with the vendor's reason, at once, and never
count against the breaker. Transient failures are retried;
when attempts run out the last one is raised: ``DownstreamTimeout`` for a timeout, else a
``TransientDownstreamError`` (subclasses here: ``RateLimited``, ``DownstreamInProgress``,
``MalformedAnswer``, ``CircuitOpen``, ``PoolExhausted``). Every attempt is logged on the
``adapters.http`` logger: service, method, path, status, duration, idempotency key, attempt.
"""

from adapters.http.breakers import KEY_PREFIX as BREAKER_KEY_PREFIX
from adapters.http.breakers import Breakers, SharedBreakers
from adapters.http.nowpayments import NowPaymentsGateway
from adapters.http.payments import HttpPaymentGateway
from adapters.http.transfers import HttpTokenTransferService
from adapters.http.transport import (
    CircuitOpen,
    DownstreamInProgress,
    MalformedAnswer,
    PoolExhausted,
    PoolShards,
    RateLimited,
    RetryPolicy,
    build_breakers,
    build_client,
    open_client,
)
from adapters.http.wallets import HttpWalletService

__all__ = [
    "BREAKER_KEY_PREFIX",
    "Breakers",
    "CircuitOpen",
    "DownstreamInProgress",
    "HttpPaymentGateway",
    "HttpTokenTransferService",
    "HttpWalletService",
    "MalformedAnswer",
    "NowPaymentsGateway",
    "PoolExhausted",
    "PoolShards",
    "RateLimited",
    "RetryPolicy",
    "SharedBreakers",
    "build_breakers",
    "build_client",
    "open_client",
]
