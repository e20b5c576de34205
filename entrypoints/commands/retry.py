"""``orders-service retry <reference_id>``: un-park a failed order and have it retried now."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from application.errors import InfrastructureUnavailable, OrderFinished, OrderNotFound, StaleOrder
from application.retry_order_now import RetryOrderNow
from domain import Order
from entrypoints.container import Container, resolve, running
from entrypoints.settings import Settings, SettingsError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "retry",
        help="un-park a failed order (fresh attempt budget) and retry it now",
        description=__doc__,
    )
    parser.add_argument("reference_id", help="the reference id the order was created with")
    parser.set_defaults(handler=_run)


async def retry_order(
    settings: Settings,
    reference_id: str,
    *,
    configure: Callable[[Container], None] | None = None,
) -> Order:
    """RetryOrderNow on the configured store and queue; the order as saved."""
    async with running(settings, configure=configure) as container:
        use_case = await resolve(container.retry_order_now, RetryOrderNow)
        return await use_case.execute(reference_id=reference_id)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(runs_pipeline=True)
    except SettingsError as exc:
        print(f"orders-service retry: {exc}", file=sys.stderr)
        return 2
    if settings.mongodb_uri is None:
        print(
            "orders-service retry: MONGODB_URI is not set, so this command sees only its own "
            "empty in-memory store",
            file=sys.stderr,
        )
    try:
        order = asyncio.run(retry_order(settings, args.reference_id))
    except (OrderNotFound, OrderFinished) as exc:
        print(f"orders-service retry: {exc}", file=sys.stderr)
        return 1
    except StaleOrder:
        print(
            f"orders-service retry: order {args.reference_id!r} changed while it was being "
            "un-parked; look at it again and retry",
            file=sys.stderr,
        )
        return 1
    except InfrastructureUnavailable as exc:
        # Un-parked orders are due at once, so the worker's retry sweep still picks this one up
        # when the queue is back; but the save may not have happened either: say so.
        print(
            f"orders-service retry: {exc}; the worker's retry sweep picks up the order "
            "if it was un-parked",
            file=sys.stderr,
        )
        return 1
    when = "queued for the worker" if settings.redis_url else "no queue (REDIS_URL unset)"
    print(f"{order.reference_id}: {order.status.value}, {when} (order {order.id})")
    return 0
