"""Errors the use-cases raise and the ports' adapters translate into."""

from __future__ import annotations


class ApplicationError(Exception):
    """Base class of application errors."""


class NotFound(ApplicationError):
    """The thing asked for does not exist."""


class OrderNotFound(NotFound):
    """No order has ``key`` (``id`` or ``reference_id``) equal to ``value``."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__(f"no order with {key} {value!r}")
        self.key = key
        self.value = value


class PaymentNotFound(NotFound):
    """No stored order has this payment id (not yet stored, or not this service's payment)."""

    def __init__(self, payment_id: str) -> None:
        super().__init__(f"no order for payment {payment_id!r}")
        self.payment_id = payment_id


class InvalidQuery(ApplicationError):
    """A search parameter is malformed or contradicts another (a 400 naming it)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class Conflict(ApplicationError):
    """The request conflicts with what is stored."""


class IdempotencyConflict(Conflict):
    """The same idempotency key came with a different request."""


class DuplicateOrder(Conflict):
    """A unique key (reference id, payment id) is already taken in the repository."""

    def __init__(self, key: str, value: str) -> None:
        super().__init__(f"an order with {key} {value!r} already exists")
        self.key = key
        self.value = value


class StaleOrder(Conflict):
    """Compare-and-set lost: the stored version is not the one that was read."""

    def __init__(self, order_id: str, expected_version: int) -> None:
        super().__init__(f"order {order_id} changed since version {expected_version}")
        self.order_id = order_id
        self.expected_version = expected_version


class OrderFinished(Conflict):
    """A manual retry was asked for an order in a terminal status: it has nothing to retry."""

    def __init__(self, order_id: str, status: str) -> None:
        super().__init__(f"order {order_id} is {status}: nothing to retry")
        self.order_id = order_id
        self.status = status


class RefundConflict(Conflict):
    """A refund or a re-send was asked for an order that cannot take it now (it says why)."""


class DownstreamError(ApplicationError):
    """A payment, wallet or transfer call failed."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class TransientDownstreamError(DownstreamError):
    """Worth retrying with the same idempotency key: timeouts, 5xx, 429, 409 in_progress."""


class DownstreamTimeout(TransientDownstreamError):
    """The call timed out: the effect may or may not have happened."""


class PaymentCreateInProgress(DownstreamTimeout):
    """Another request holds this order's payment create and did not finish while this one
    waited: nothing was made by this request; retry with the same body."""


class PermanentDownstreamError(DownstreamError):
    """Retrying the same call will not help (a 4xx other than 409 in_progress and 429)."""


class RequestRefused(PermanentDownstreamError):
    """The call was refused because of what it carries: our HTTP client could not build it (a
    header value with a line break, an invalid URL), or the downstream answered 400/422. The
    downstream is fine: never retried, never counted against its circuit breaker, and answered
    422 to an API caller whose input it carried."""


class IdempotencyKeyReused(PermanentDownstreamError):
    """The downstream saw this key before with a different body."""


class NotRefundable(PermanentDownstreamError):
    """The gateway refuses the refund: the payment was never completed (409 not_refundable)."""


class InfrastructureUnavailable(ApplicationError):
    """A store or queue of our own cannot be reached; the caller should try again later."""

    def __init__(self, component: str, reason: str) -> None:
        super().__init__(f"{component} unavailable: {reason}")
        self.component = component
        self.reason = reason


class CorruptDocument(ApplicationError):
    """A stored document no longer decodes into an Order."""

    def __init__(self, document_id: str, reason: str) -> None:
        super().__init__(f"stored order {document_id!r} does not decode: {reason}")
        self.document_id = document_id
        self.reason = reason
