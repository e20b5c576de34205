"""An operator sends a parked order's tokens again, under a new key."""

from __future__ import annotations

from application.errors import OrderNotFound, RefundConflict
from application.ports import Clock, JobScheduler, OrderRepository, TokenTransferService
from application.ports.transfers import TransferState
from domain import Order, OrderStatus, Step


class RetryTransfer:
    """Re-send under a new key (``<order id>:send_token:<n>``) only once the current key's
    transfer is confirmed ``failed`` by a lookup: never while it may still land. Refused
    (``RefundConflict``) for an order with a refund, one not parked in
    ``send_token_to_smartwallet_fail``, or one whose transfer is not found (a plain retry keeps
    the same key then) or not failed."""

    def __init__(
        self,
        repository: OrderRepository,
        transfers: TokenTransferService,
        scheduler: JobScheduler,
        clock: Clock,
    ) -> None:
        self._repository = repository
        self._transfers = transfers
        self._scheduler = scheduler
        self._clock = clock

    async def execute(self, order_id: str, reason: str) -> Order:
        order = await self._repository.get(order_id)
        if order is None:
            raise OrderNotFound("id", order_id)
        if order.refund is not None:
            raise RefundConflict(
                f"order {order.id} has a {order.refund.status.value} refund: no re-send"
            )
        if order.status is not OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL or not order.parked:
            parked = "parked" if order.parked else "not parked"
            raise RefundConflict(
                f"order {order.id} is {order.status.value} ({parked}): only a parked failed "
                "transfer is re-sent"
            )
        key = order.idempotency_key(Step.SEND_TOKEN)
        transfer = await self._transfers.find_by_key(key)
        if transfer is None:
            raise RefundConflict(
                f"order {order.id}: no transfer was made under key {key}; retry the order "
                "(the same key is safe)"
            )
        if transfer.status is not TransferState.FAILED:
            raise RefundConflict(
                f"order {order.id}: transfer {transfer.id} under key {key} is "
                f"{transfer.status.value}, not failed: it may still land"
            )
        order.resend_tokens(self._clock.now(), transfer.id, reason)
        await self._repository.save(order, expected_version=order.version)
        await self._scheduler.schedule_advance(order.id)
        return order
