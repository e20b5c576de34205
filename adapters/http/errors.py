"""The adapters' own downstream errors: subclasses of the application's, so a caller that knows
only ``application.errors`` handles them as what they are (all transient)."""

from __future__ import annotations

from application.errors import TransientDownstreamError


class DownstreamInProgress(TransientDownstreamError):
    """409 ``in_progress``: the downstream is still working on this key; ask again shortly."""


class RateLimited(TransientDownstreamError):
    """429: the downstream asks us to wait ``retry_after`` seconds (None: it did not say)."""

    def __init__(self, service: str, reason: str, retry_after: float | None) -> None:
        super().__init__(service, reason)
        self.retry_after = retry_after


class MalformedAnswer(TransientDownstreamError):
    """A 2xx whose body does not match the contract. Not retried on the spot: a vendor that
    changed its format will not change it back within a second; the worker's backoff decides."""


class CircuitOpen(TransientDownstreamError):
    """The breaker of this downstream is open: the call was not made."""


class PoolExhausted(TransientDownstreamError):
    """No connection of our own pool freed up in time. Our limit, not the downstream's fault:
    it does not count against the downstream's breaker."""
