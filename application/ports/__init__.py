"""The ports the use-cases own; adapters implement them."""

from application.ports.clock import Clock
from application.ports.events import (
    Attempt,
    Delivery,
    DeliveryLog,
    EventOutbox,
    EventSubscriber,
    Outcome,
    StaleDelivery,
    relay_cue,
)
from application.ports.payment_intents import PaymentIntent, PaymentIntents
from application.ports.payments import (
    CreatedPayment,
    GatewayRefund,
    PaymentGateway,
    PaymentRequest,
    PaymentSnapshot,
    PaymentState,
    RefundState,
)
from application.ports.repository import OrderRepository
from application.ports.scheduler import JobScheduler
from application.ports.transfers import (
    TokenTransferService,
    Transfer,
    TransferRequest,
    TransferState,
)
from application.ports.wallets import Wallet, WalletService
from application.ports.webhook_log import WebhookEvent, WebhookEventLog

__all__ = [
    "Attempt",
    "Clock",
    "CreatedPayment",
    "Delivery",
    "DeliveryLog",
    "EventOutbox",
    "EventSubscriber",
    "GatewayRefund",
    "JobScheduler",
    "OrderRepository",
    "Outcome",
    "PaymentGateway",
    "PaymentIntent",
    "PaymentIntents",
    "PaymentRequest",
    "PaymentSnapshot",
    "PaymentState",
    "RefundState",
    "StaleDelivery",
    "TokenTransferService",
    "Transfer",
    "TransferRequest",
    "TransferState",
    "Wallet",
    "WalletService",
    "WebhookEvent",
    "WebhookEventLog",
    "relay_cue",
]
