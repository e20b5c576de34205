"""In-memory adapters: a repository and a webhook log that behave like the Mongo ones, and an
in-process scheduler for running without a queue."""

from adapters.memory.payment_intents import InMemoryPaymentIntents
from adapters.memory.repository import InMemoryOrderRepository
from adapters.memory.scheduler import InProcessScheduler
from adapters.memory.webhook_log import InMemoryWebhookEventLog

__all__ = [
    "InMemoryOrderRepository",
    "InMemoryPaymentIntents",
    "InMemoryWebhookEventLog",
    "InProcessScheduler",
]
