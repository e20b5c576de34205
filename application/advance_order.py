"""Drive one order as far as it can go now: the pipeline.

Every side effect is announced by saving its status *before* the call, and carries the order's
idempotency key for that step, so a crash at any line is recovered by calling again with the same
key. Every save is compare-and-set: when another runner got there first, this one stops.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from application.errors import (
    DownstreamError,
    InfrastructureUnavailable,
    OrderNotFound,
    PermanentDownstreamError,
    StaleOrder,
)
from application.policy import OrderRetryPolicy, PipelineTimings
from application.ports import (
    Clock,
    JobScheduler,
    OrderRepository,
    PaymentGateway,
    PaymentState,
    TokenTransferService,
    Transfer,
    TransferRequest,
    TransferState,
    WalletService,
)
from domain import (
    Order,
    OrderEvent,
    OrderStatus,
    RefundCause,
    RefundStatus,
    Step,
    TransferResult,
)

log = logging.getLogger(__name__)


#: More moves than any order can make in one run (pending → … → completed is four saves).
_MAX_MOVES = 8


@dataclass(frozen=True, slots=True)
class AdvanceOutcome:
    """What one run did: the order as it was left, whether a concurrent runner won, and the
    events this run stored (each with the save that caused it; a lost save stored none)."""

    order: Order
    lost_race: bool = False
    events: tuple[OrderEvent, ...] = ()


class AdvanceOrder:
    """Check the payment, create the wallet, send the tokens: whatever the order needs next."""

    def __init__(
        self,
        repository: OrderRepository,
        gateway: PaymentGateway,
        wallets: WalletService,
        transfers: TokenTransferService,
        scheduler: JobScheduler,
        clock: Clock,
        retry_policy: OrderRetryPolicy,
        timings: PipelineTimings,
    ) -> None:
        self._repository = repository
        self._gateway = gateway
        self._wallets = wallets
        self._transfers = transfers
        self._scheduler = scheduler
        self._clock = clock
        self._retry = retry_policy
        self._timings = timings

    async def execute(self, order_id: str) -> AdvanceOutcome:
        order = await self._repository.get(order_id)
        if order is None:
            raise OrderNotFound("id", order_id)
        first = order.stored_events
        try:
            await self._run(order)
        except StaleOrder:
            log.info("order %s changed under us; the other runner carries on", order_id)
            return AdvanceOutcome(
                order, lost_race=True, events=tuple(order.events[first : order.stored_events])
            )
        return AdvanceOutcome(order, events=tuple(order.events[first : order.stored_events]))

    async def _run(self, order: Order) -> None:
        """Fulfil the order, or (``failed_pay``) look for a late payment; then drive its refund,
        if it has one (requested just now, by an operator, or earlier)."""
        if order.refund is None:
            if order.status is OrderStatus.FAILED_PAY:
                await self._check_late_payment(order)
            else:
                await self._fulfil(order)
        if order.refund is not None:
            await self._drive_refund(order)

    async def _fulfil(self, order: Order) -> None:
        # True only right after this run announced the transfer coming from a status the transfer
        # was never tried in (completed_pay, creating_wallet): nobody can have sent under the key
        # yet, so the lookup is skipped. It is decided by where the order came from, never by the
        # attempt count, which an operator's retry resets.
        fresh_send = False
        for _ in range(_MAX_MOVES):
            if order.is_terminal or order.parked:
                return
            status = order.status
            if status is OrderStatus.PENDING:
                if not await self._check_payment(order):
                    return
            elif status is OrderStatus.COMPLETED_PAY or status in (
                OrderStatus.CREATE_WALLET_FAIL,
                OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL,
            ):
                if status is not OrderStatus.COMPLETED_PAY and not self._due(order):
                    await self._schedule(order, order.next_attempt_at)
                    return
                step = order.next_step()
                order.start_step(step, self._clock.now())
                await self._save(order)
                fresh_send = step is Step.SEND_TOKEN and status is OrderStatus.COMPLETED_PAY
            elif status is OrderStatus.CREATING_WALLET:
                await self._create_wallet(order)
                fresh_send = order.status is OrderStatus.SENDING_TOKEN_TO_SMARTWALLET
            elif status is OrderStatus.SENDING_TOKEN_TO_SMARTWALLET:
                await self._send_tokens(order, lookup_first=not fresh_send)
                return
            else:  # pragma: no cover - every non-terminal status is handled above
                raise AssertionError(f"unhandled status {status}")

    def _due(self, order: Order) -> bool:
        return order.next_attempt_at is None or order.next_attempt_at <= self._clock.now()

    async def _save(self, order: Order) -> None:
        await self._repository.save(order, expected_version=order.version)

    async def _schedule(self, order: Order, at: datetime | None) -> None:
        # The sweepers (due retries, pending payments, stuck steps) find the order anyway; a queue
        # that is down only delays it.
        try:
            await self._scheduler.schedule_advance(order.id, at=at)
        except InfrastructureUnavailable as exc:
            log.warning("could not schedule order %s: %s; the sweepers will", order.id, exc)

    async def _check_payment(self, order: Order) -> bool:
        """Ask the gateway. True when the order moved on to ``completed_pay``."""
        now = self._clock.now()
        try:
            info = await self._gateway.get_payment(order.payment.id)
        except DownstreamError as exc:
            log.warning("payment check of order %s failed: %s", order.id, exc)
            await self._schedule(order, now + self._timings.payment_recheck)
            return False
        order.record_payment_status(info.status.value)
        paid, paid_currency = info.paid_amount, info.paid_currency
        if info.underpaid and paid is not None and paid_currency is not None:
            # Kept on the order whatever comes next (a top-up, expiry): a refund needs it.
            order.record_underpayment(paid, paid_currency, info.pay_amount, now)
        if info.status is PaymentState.COMPLETED:
            if info.amount != order.price_fiat or info.currency != order.fiat_currency:
                reason = (
                    f"gateway reports {info.amount} {info.currency} paid for "
                    f"{order.price_fiat} {order.fiat_currency}"
                )
                order.mark_payment_failed(now, reason)
                # The money came: it goes back, all of it, announced in the same save.
                order.request_refund(
                    RefundCause.AMOUNT_MISMATCH, info.amount, info.currency, reason, now
                )
                await self._save(order)
                return False  # the run drives the refund next
            order.mark_paid(now)
            await self._save(order)
            return True
        if info.status in (PaymentState.FAILED, PaymentState.EXPIRED):
            order.mark_payment_failed(now, f"gateway reports the payment {info.status.value}")
            await self._save(order)
            return False
        expires_at = order.payment.expires_at
        if expires_at is not None and now > expires_at + self._timings.payment_expiry_grace:
            order.mark_payment_failed(
                now, f"payment still pending after it expired at {expires_at}"
            )
            await self._save(order)
            return False
        order.payment_still_pending(now)
        await self._save(order)
        await self._schedule(order, now + self._timings.payment_recheck)
        return False

    async def _check_late_payment(self, order: Order) -> None:
        """A ``failed_pay`` order without a refund (a webhook hinted at news): ask the gateway;
        a payment that completed after all gets its refund requested."""
        now = self._clock.now()
        try:
            info = await self._gateway.get_payment(order.payment.id)
        except DownstreamError as exc:
            log.warning("late payment check of order %s failed: %s", order.id, exc)
            await self._schedule(order, now + self._timings.payment_recheck)
            return
        if info.status is not PaymentState.COMPLETED:
            return
        order.record_payment_status(info.status.value)
        order.request_refund(
            RefundCause.LATE_PAYMENT,
            info.amount,
            info.currency,
            "payment completed after the order had failed",
            now,
        )
        await self._save(order)

    async def _drive_refund(self, order: Order) -> None:
        """Call (or replay, same key) the refund, or look a pending one up; retries with
        backoff, parks after the budget or when the gateway says ``failed``."""
        refund = order.refund
        assert refund is not None
        if refund.is_final or order.parked:
            return
        now = self._clock.now()
        if refund.next_attempt_at is not None and refund.next_attempt_at > now:
            await self._schedule(order, refund.next_attempt_at)
            return
        try:
            if refund.refund_id is None:
                answer = await self._gateway.refund_payment(
                    order.payment.id, refund.amount, refund.reason, idempotency_key=order.refund_key
                )
            else:
                answer = await self._gateway.get_refund(refund.refund_id)
        except DownstreamError as exc:
            retry_at = (
                None
                if isinstance(exc, PermanentDownstreamError)
                else self._retry.next_attempt_at(refund.attempts + 1, now)
            )
            order.refund_attempt_failed(now, str(exc), retry_at=retry_at)
            await self._save(order)
            if retry_at is not None:
                await self._schedule(order, retry_at)
            return
        recheck = now + self._timings.refund_recheck
        status = RefundStatus(answer.status.value)
        order.refund_answered(answer.id, status, answer.failure_reason, now, recheck_at=recheck)
        await self._save(order)
        if status is RefundStatus.PENDING:
            await self._schedule(order, recheck)

    async def _step_failed(self, order: Order, step: Step, exc: DownstreamError) -> None:
        now = self._clock.now()
        retry_at = (
            None
            if isinstance(exc, PermanentDownstreamError)
            else self._retry.next_attempt_at(order.attempts_of(step), now)
        )
        order.step_failed(now, str(exc), retry_at=retry_at)
        await self._save(order)
        if retry_at is not None:
            await self._schedule(order, retry_at)

    async def _create_wallet(self, order: Order) -> None:
        try:
            wallet = await self._wallets.create_wallet(
                credential_id=order.passkey.credential_id,
                public_key=order.passkey.public_key,
                idempotency_key=order.idempotency_key(Step.CREATE_WALLET),
            )
        except DownstreamError as exc:
            await self._step_failed(order, Step.CREATE_WALLET, exc)
            return
        order.wallet_created(wallet.address, self._clock.now())
        await self._save(order)

    async def _send_tokens(self, order: Order, *, lookup_first: bool) -> None:
        key = order.idempotency_key(Step.SEND_TOKEN)
        address = order.smart_wallet_address
        assert address is not None  # the table only reaches this step with a wallet
        try:
            transfer = await self._transfers.find_by_key(key) if lookup_first else None
            if transfer is None:
                transfer = await self._transfers.send(
                    TransferRequest(
                        destination=address,
                        pool_id=order.pool_id,
                        token_symbol=order.token_symbol,
                        amount=order.amount_token,
                        min_amount_out=order.min_amount_token_receive,
                        slippage_percent=order.price_tolerance_percent,
                    ),
                    idempotency_key=key,
                )
        except DownstreamError as exc:
            await self._step_failed(order, Step.SEND_TOKEN, exc)
            return
        await self._record_transfer(order, transfer)

    async def _record_transfer(self, order: Order, transfer: Transfer) -> None:
        now = self._clock.now()
        result = TransferResult(
            transfer_id=transfer.id,
            status=transfer.status.value,
            tx_signature=transfer.tx_signature,
            amount_out=transfer.amount_out,
        )
        if transfer.status is TransferState.CONFIRMED:
            # Completed, or parked when it delivered less than the buyer's minimum.
            order.transfer_confirmed(result, now)
            await self._save(order)
        elif transfer.status is TransferState.SUBMITTED:
            # On its way: keep the status, look it up by key again shortly.
            if order.transfer != result:
                order.transfer_submitted(result)
                await self._save(order)
            await self._schedule(order, now + self._timings.transfer_recheck)
        else:
            # A transfer that failed on chain is final under this key: a person must look.
            order.transfer = result
            reason = f"transfer {transfer.id} failed: {transfer.failure_reason or 'no reason'}"
            order.step_failed(now, reason, retry_at=None)
            await self._save(order)
