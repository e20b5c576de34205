"""An operator ends a parked order's fulfilment and gives the buyer's money back."""

from __future__ import annotations

from application.errors import OrderNotFound, RefundConflict
from application.ports import Clock, JobScheduler, OrderRepository, TokenTransferService
from application.ports.transfers import TransferState
from domain import Order, OrderStatus, RefundCause


class RefundOrder:
    """Request the refund of a parked order (the full price paid), after making sure no tokens
    moved or may still move: every transfer key the order used is looked up, and any transfer
    that is not ``failed`` refuses the refund (``RefundConflict``). A repeat of the same call on
    an order already refunded by an operator answers the order as it is."""

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
        if order.refund is not None and order.refund.cause is RefundCause.OPERATOR:
            return order  # a replay of the operator's call
        problem = order.refundable_problem()
        if problem is None and not order.parked:
            problem = "only a parked order is refunded by an operator"
        if problem is not None:
            raise RefundConflict(f"order {order.id}: {problem}")
        if order.status is OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL:
            for key in order.send_token_keys():
                transfer = await self._transfers.find_by_key(key)
                if transfer is not None and transfer.status is not TransferState.FAILED:
                    raise RefundConflict(
                        f"order {order.id}: transfer {transfer.id} under key {key} is "
                        f"{transfer.status.value}: tokens moved or may still move"
                    )
        order.request_refund(
            RefundCause.OPERATOR,
            order.price_fiat,
            order.fiat_currency,
            f"refunded by an operator: {reason}",
            self._clock.now(),
        )
        await self._repository.save(order, expected_version=order.version)
        await self._scheduler.schedule_advance(order.id)
        return order
