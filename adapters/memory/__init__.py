"""In-memory adapters: a repository (with the relay's outbox), order queries, a delivery log and
a webhook log that pass the same contract suites as the Mongo ones (tests/contract), and an
in-process scheduler for running without a queue. Dev mode and tests only: nothing survives the
process."""

from adapters.memory.deliveries import InMemoryDeliveryLog
from adapters.memory.payment_intents import InMemoryPaymentIntents
from adapters.memory.repository import InMemoryOrderRepository
from adapters.memory.scheduler import InProcessScheduler
from adapters.memory.webhook_log import InMemoryWebhookEventLog

__all__ = [
    "InMemoryDeliveryLog",
    "InMemoryOrderRepository",
    "InMemoryPaymentIntents",
    "InMemoryWebhookEventLog",
    "InProcessScheduler",
]
