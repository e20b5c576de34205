"""The SAQ worker: thin tasks over the use-cases, the sweeper crons, graceful shutdown."""

from entrypoints.worker.runner import GracefulWorker, run_worker
from entrypoints.worker.settings import CronIntervals, cron_every, worker_settings
from entrypoints.worker.tasks import Services, WorkerContext

__all__ = [
    "CronIntervals",
    "GracefulWorker",
    "Services",
    "WorkerContext",
    "cron_every",
    "run_worker",
    "worker_settings",
]
