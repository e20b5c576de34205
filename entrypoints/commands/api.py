"""``orders-service api``: serve the HTTP API with uvicorn (one process; run several behind a
load balancer to scale). In production (ORDERS_MODE unset) it refuses to start, exit code 2,
naming every setting missing or invalid."""

from __future__ import annotations

import argparse
import sys

from entrypoints.settings import Settings, SettingsError
from entrypoints.settings_docs import environment_help


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0..65535, got {value}")
    return port


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "api",
        help="serve the HTTP API (Litestar on uvicorn)",
        description=__doc__,
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="port to bind (default 8000)")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(runs_pipeline=True)
    except SettingsError as exc:
        print(f"orders-service api: {exc}", file=sys.stderr)
        return 2
    # Imported here so that `orders-service --help` does not build the app.
    import uvicorn  # noqa: PLC0415

    from entrypoints.api.app import create_app  # noqa: PLC0415
    from entrypoints.logging import configure_logging  # noqa: PLC0415

    configure_logging(settings)
    uvicorn.run(
        create_app(settings, freeze_startup_objects=True),
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
        # Logging is structlog's (entrypoints/logging.py); the API logs each request itself.
        log_config=None,
        access_log=False,
        # No proxy is assumed: do not trust X-Forwarded-* from arbitrary clients.
        proxy_headers=False,
        server_header=False,
    )
    return 0
