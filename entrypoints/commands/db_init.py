"""``orders-service db-init``: create or update the orders validator and every index.

Idempotent and never destructive: a second run prints "up to date"; an older validator is
updated in place (``collMod``); an index that clashes with ours is reported, not dropped.
Exit codes: 0 done (or nothing to do), 1 a conflict needs a person, 2 settings, 3 unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from adapters.mongo import (
    DEFAULT_WEBHOOK_RETENTION_DAYS,
    ConcernRejected,
    SchemaReport,
    close_client,
    ensure_schema,
    get_database,
    make_client,
)
from application.errors import InfrastructureUnavailable
from entrypoints.settings import Settings, SettingsError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db-init",
        help="create or update the MongoDB validator and indexes (idempotent, never destructive)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=_run)


async def init_database(
    uri: str,
    db_name: str,
    driver: str,
    *,
    webhook_retention_days: int = DEFAULT_WEBHOOK_RETENTION_DAYS,
) -> SchemaReport:
    """Ensure the schema of ``db_name`` on ``uri``; what changed."""
    client = make_client(uri, driver)
    try:
        return await ensure_schema(
            get_database(client, db_name), webhook_retention_days=webhook_retention_days
        )
    finally:
        await close_client(client)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"db-init: {exc}", file=sys.stderr)
        return 2
    if not settings.mongodb_uri:
        print(
            "db-init: MONGODB_URI is not set (the in-memory store needs no init)", file=sys.stderr
        )
        return 2
    try:
        report = asyncio.run(
            init_database(
                settings.mongodb_uri,
                settings.mongodb_db_name,
                settings.mongodb_driver,
                webhook_retention_days=settings.webhook_event_retention_days,
            )
        )
    except InfrastructureUnavailable as exc:
        print(f"db-init: {exc}", file=sys.stderr)
        return 3
    except ConcernRejected as exc:
        print(f"db-init: {exc}", file=sys.stderr)
        return 2
    print(f"database {settings.mongodb_db_name} ({settings.mongodb_driver}):")
    for line in report.lines():
        print(f"  {line}")
    return 1 if report.conflicts else 0
