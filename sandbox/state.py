"""The sandbox's memory: the vendors' books (``sandbox.ledger``, the contracts' idempotency rules)
and what only the HTTP side has: knobs, fault draws, counters and webhook deliveries."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import msgspec

from sandbox.config import Endpoint, FaultKind, SandboxConfig, SandboxKnobs
from sandbox.ledger import PaymentBook, TransferBook, WalletBook
from sandbox.merchant import MerchantLog
from sandbox.nowpayments import NowPayment, NowPaymentsLedger, sign_ipn, write_object
from sandbox.webhooks import Delivery, WebhookSender


class WebhookEventBody(msgspec.Struct):
    id: str
    type: str
    created_at: datetime
    data: dict[str, str]


_event_encoder = msgspec.json.Encoder()


class Sandbox:
    """All three downstreams of the contract, in memory, with knobs and counters."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.webhooks = WebhookSender(config.webhook_url, config.webhook_secret)
        self._clear()

    def _clear(self) -> None:
        self.knobs: SandboxKnobs = self.config.knobs.copy()
        self.rng = random.Random(self.config.seed)  # noqa: S311 - a simulation, not security
        self.gateway = PaymentBook()
        self.wallets = WalletBook()
        self.transfers = TransferBook()
        #: Ids already answered once: a later answer with the same id is a replay (200, not 201).
        self.answered_payments: set[str] = set()
        self.answered_transfers: set[str] = set()
        self.answered_refunds: set[str] = set()
        #: Refund calls per idempotency key (replays included).
        self.refund_requests: Counter[str] = Counter()
        self.payment_conflicts = 0
        self.wallets_existing = 0
        self.calls: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.deliveries: dict[str, list[Delivery]] = {}
        self.nowpayments = NowPaymentsLedger()
        #: The merchant receiver's record of order events (sandbox/merchant.py).
        self.merchant = MerchantLog()
        #: Outcomes forced by a NOWPayments ``case``, waiting for their moment.
        self.background: set[asyncio.Task[None]] = set()
        self.webhooks.reset_counters()
        self.replace_knobs(self.knobs)

    async def reset(self) -> None:
        """Forget everything; the knobs go back to those given at start."""
        await self.webhooks.cancel_all()
        tasks = list(self.background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._clear()

    def replace_knobs(self, knobs: SandboxKnobs) -> None:
        self.knobs = knobs

    # --- faults ---

    def draw_fault(self, endpoint: Endpoint) -> FaultKind | None:
        """The scripted fault for this call if any, else a random one at the configured rates."""
        faults = self.knobs.faults_of(endpoint)
        if faults is None:
            return None
        fault: FaultKind | None = None
        if faults.script:
            fault = faults.script.pop(0)
        else:
            draw = self.rng.random()
            for kind, rate in faults.weighted():
                if draw < rate:
                    fault = kind
                    break
                draw -= rate
        if fault is not None:
            self.faults[fault] += 1
        return fault

    async def wait_latency(self) -> None:
        knobs = self.knobs
        delay_ms = knobs.latency_ms + self.rng.uniform(0, knobs.latency_jitter_ms)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)

    # --- the buyer's side ---

    def settle(
        self,
        payment_id: str,
        action: str,
        amount: Decimal | None,
        *,
        notify: bool = True,
        currency: str | None = None,
        late: bool = False,
    ) -> str:
        """Complete, fail or expire a pending payment, then send its webhook (unless not
        ``notify``: a webhook that never arrives). ``late`` completes one already expired or
        failed (the bank settled after the expiry)."""
        stored = self.gateway.payments[payment_id]
        if action == "complete":
            self.gateway.complete(stored, amount, currency=currency, late=late)
        else:
            self.gateway.close(stored, "failed" if action == "fail" else "expired")
        if notify:
            self.notify(payment_id)
        return stored.status

    def notify(self, payment_id: str) -> Delivery:
        """Send a ``payment.updated`` event with the payment's status now."""
        stored = self.gateway.payments[payment_id]
        event = WebhookEventBody(
            id=f"evt_{secrets.token_hex(8)}",
            type="payment.updated",
            created_at=datetime.now(UTC),
            data={"payment_id": payment_id, "status": stored.status},
        )
        delivery = Delivery(event_id=event.id, status="sending")
        self.deliveries.setdefault(payment_id, []).append(delivery)
        self.webhooks.send(
            delivery,
            _event_encoder.encode(event),
            max_attempts=self.knobs.webhook_max_attempts,
            backoff_seconds=self.knobs.webhook_backoff_seconds,
        )
        return delivery

    def notify_nowpayments(self, payment: NowPayment) -> Delivery:
        """Send the payment's IPN: its fields now (NOWPayments' order), ``x-nowpayments-sig``
        over their sorted form."""
        key = str(payment.payment_id)
        delivery = Delivery(event_id=f"{key}:{payment.status}:{payment.updated_at}", status="")
        self.deliveries.setdefault(key, []).append(delivery)
        secret = self.config.nowpayments_ipn_secret
        if not secret:
            delivery.status = "not_configured"
            return delivery
        delivery.status = "sending"
        fields = payment.fields()
        self.webhooks.send_to(
            delivery,
            payment.ipn_callback_url,
            write_object(fields).encode("utf-8"),
            {"Content-Type": "application/json", "x-nowpayments-sig": sign_ipn(secret, fields)},
            max_attempts=self.knobs.webhook_max_attempts,
            backoff_seconds=self.knobs.webhook_backoff_seconds,
        )
        return delivery

    # --- views ---

    def stats(self) -> dict[str, object]:
        webhooks = self.webhooks.counters
        return {
            "payments": len(self.gateway.payments),
            "nowpayments_payments": len(self.nowpayments.payments),
            "payment_replays": self.gateway.replays,
            "payment_conflicts": self.payment_conflicts,
            "wallets": len(self.wallets.wallets),
            "wallets_existing": self.wallets_existing,
            "transfers": len(self.transfers.transfers),
            "duplicates_refused": self.transfers.duplicates_refused,
            "refunds": len(self.gateway.refunds),
            "refunds_by_key": {
                key: {
                    "id": refund.id,
                    "payment_id": refund.payment_id,
                    "status": refund.status,
                    "amount": f"{refund.amount:f}",
                    "requests": self.refund_requests[key],
                }
                for key, refund in sorted(self.gateway.refunds.items())
            },
            "calls": {name: self.calls[name] for name in sorted(self.calls)},
            "faults": {name: self.faults[name] for name in sorted(self.faults)},
            "webhooks": {
                "attempts": webhooks.attempts,
                "delivered": webhooks.delivered,
                "failed": webhooks.failed,
            },
        }
