"""``orders-service worker``: the SAQ worker on ``REDIS_URL``, until SIGTERM or Ctrl-C. In
production (ORDERS_MODE unset) it refuses to start, exit code 2, naming every setting missing or
invalid."""

from __future__ import annotations

import argparse
import asyncio
import sys

from entrypoints.settings import Settings, SettingsError
from entrypoints.settings_docs import environment_help

#: entrypoints.worker.runner's, repeated so that parsing the command line (and refusing bad
#: settings) does not import SAQ and the container.
DEFAULT_GRACE_SECONDS = 30.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="advance orders from the Redis queue and run the sweepers (needs REDIS_URL)",
        description=__doc__,
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--grace-seconds",
        type=float,
        default=DEFAULT_GRACE_SECONDS,
        help="on SIGTERM, how long jobs in flight get to finish before they are cancelled and "
        f"put back in the queue (default {DEFAULT_GRACE_SECONDS:.0f})",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(runs_pipeline=True)
    except SettingsError as exc:
        print(f"orders-service worker: {exc}", file=sys.stderr)
        return 2
    if settings.redis_url is None:
        print(
            "orders-service worker: REDIS_URL is not set. The worker takes its jobs from Redis, "
            "e.g. REDIS_URL=redis://127.0.0.1:6379 orders-service worker",
            file=sys.stderr,
        )
        return 2
    if args.grace_seconds < 0:
        print("orders-service worker: --grace-seconds must not be negative", file=sys.stderr)
        return 2
    # Imported here: a refused start stops before loading the worker's stack.
    from entrypoints.log_config import configure_logging  # noqa: PLC0415
    from entrypoints.worker.metrics_server import serve_metrics  # noqa: PLC0415
    from entrypoints.worker.runner import run_worker  # noqa: PLC0415

    configure_logging(settings)
    listener = None
    if settings.worker_metrics_address:
        listener = serve_metrics(settings.worker_metrics_address)
    try:
        asyncio.run(run_worker(settings, grace_seconds=args.grace_seconds))
    finally:
        if listener is not None:
            listener.stop()
    return 0
