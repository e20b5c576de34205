"""A buyer cancels an order they will not pay."""

from __future__ import annotations

import logging

from application.buyers import Caller
from application.errors import (
    InfrastructureUnavailable,
    NotCancellable,
    PaymentNotCancellable,
    StaleOrder,
)
from application.ports import Clock, JobScheduler, OrderRepository, PaymentGateway
from application.read_own_order import ReadOwnOrder
from domain import CANCELLED_BY_BUYER, Order, OrderStatus

log = logging.getLogger(__name__)

#: Saves tried before giving up on a cancel that keeps losing compare-and-set to the pipeline
#: (each loss re-reads the order; an order that left ``pending`` ends the loop at once).
_MAX_ROUNDS = 5


def cancel_key(order: Order) -> str:
    """The idempotency key of the order's one cancel: ``<order id>:cancel_payment``."""
    return f"{order.id}:cancel_payment"


class CancelOrder:
    """Cancel the caller's pending order: the intent is saved first (compare-and-set), then the
    gateway cancels the payment, then the order moves to ``failed_pay`` "cancelled by the buyer".
    The gateway decides a race with the payment: a payment it already completed is
    ``not_cancellable``, so the order goes on to be fulfilled (``NotCancellable``), and one it
    cancelled can never complete. Either way exactly one outcome is saved."""

    def __init__(
        self,
        repository: OrderRepository,
        gateway: PaymentGateway,
        scheduler: JobScheduler,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._gateway = gateway
        self._scheduler = scheduler
        self._clock = clock
        self._read = ReadOwnOrder(repository)

    async def execute(self, order_id: str, caller: Caller) -> Order:
        order = await self._read.by_id(order_id, caller)
        for _ in range(_MAX_ROUNDS):
            self._check_pending(order)
            if order.cancel_requested_at is None:
                order.request_cancel(self._clock.now())
                try:
                    await self._repository.save(order, expected_version=order.version)
                except StaleOrder:
                    order = await self._read.by_id(order_id, caller)
                    continue
            break
        else:
            raise StaleOrder(order.id, order.version)
        try:
            await self._gateway.cancel_payment(order.payment.id, idempotency_key=cancel_key(order))
        except PaymentNotCancellable as exc:
            # Paid (or failed, or expired) first: the pipeline follows the gateway's word.
            await self._advance_soon(order)
            raise NotCancellable(
                order.id, order.status.value, f"the payment is already {exc.status}"
            ) from exc
        return await self._record_cancelled(order, caller)

    @staticmethod
    def _check_pending(order: Order) -> None:
        if order.status is not OrderStatus.PENDING:
            raise NotCancellable(
                order.id, order.status.value, f"it is {order.status.value}, not pending"
            )

    async def _record_cancelled(self, order: Order, caller: Caller) -> Order:
        """The payment is cancelled at the gateway: save ``failed_pay``, unless the pipeline
        (which also sees ``cancelled`` now) saved it first."""
        for _ in range(_MAX_ROUNDS):
            if order.status is OrderStatus.FAILED_PAY:
                return order
            if order.status is not OrderStatus.PENDING:  # pragma: no cover - the gateway said
                raise NotCancellable(order.id, order.status.value, "it moved on meanwhile")
            now = self._clock.now()
            order.record_payment_status("cancelled")
            order.mark_payment_failed(now, CANCELLED_BY_BUYER)
            try:
                await self._repository.save(order, expected_version=order.version)
            except StaleOrder:
                order = await self._read.by_id(order.id, caller)
                continue
            return order
        raise StaleOrder(order.id, order.version)

    async def _advance_soon(self, order: Order) -> None:
        try:
            await self._scheduler.schedule_advance(order.id)
        except InfrastructureUnavailable as exc:
            log.warning("could not schedule order %s: %s; the sweepers will", order.id, exc)
