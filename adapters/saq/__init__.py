"""SAQ on Redis: the queue behind ``JobScheduler`` and the worker."""

from adapters.saq.queue import (
    DEFAULT_QUEUE_NAME,
    RedisHealth,
    WorkerQueue,
    close_queue,
    make_queue,
    open_queue,
)
from adapters.saq.scheduler import (
    ADVANCE_ORDER_JOB,
    PAYLOAD_VERSION,
    AdvanceJobOptions,
    SaqJobScheduler,
    job_key,
)

__all__ = [
    "ADVANCE_ORDER_JOB",
    "DEFAULT_QUEUE_NAME",
    "PAYLOAD_VERSION",
    "AdvanceJobOptions",
    "RedisHealth",
    "SaqJobScheduler",
    "WorkerQueue",
    "close_queue",
    "job_key",
    "make_queue",
    "open_queue",
]
