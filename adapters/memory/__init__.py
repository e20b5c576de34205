"""In-memory adapters: a repository (with the relay's outbox), a delivery log and a webhook log
that behave like the Mongo ones, and an in-process scheduler for running without a queue."""

from adapters.memory.deliveries import InMemoryDeliveryLog
from adapters.memory.repository import InMemoryOrderRepository
from adapters.memory.scheduler import InProcessScheduler
from adapters.memory.webhook_log import InMemoryWebhookEventLog

__all__ = [
    "InMemoryDeliveryLog",
    "InMemoryOrderRepository",
    "InMemoryWebhookEventLog",
    "InProcessScheduler",
]
