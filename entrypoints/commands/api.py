"""``orders-service api``: serve the HTTP API with uvicorn on uvloop + httptools
(docs/adr/0011-server-stack.md). ``--workers N`` runs N processes on the same port under
uvicorn's supervisor: each builds its own app and container, SIGTERM stops them all gracefully.
More than one worker needs MongoDB (``MONGODB_URI``): the in-memory repository is per process.
In production (ORDERS_MODE unset) it refuses to start, exit code 2, naming every setting missing
or invalid."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from entrypoints.settings import Settings, SettingsError
from entrypoints.settings_docs import environment_help

if TYPE_CHECKING:
    from litestar import Litestar

#: What each worker process imports to build its app (``--workers`` > 1).
APP_FACTORY = "entrypoints.commands.api:app_from_env"


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0..65535, got {value}")
    return port


def _workers(value: str) -> int:
    workers = int(value)
    if workers < 1:
        raise argparse.ArgumentTypeError(f"workers must be at least 1, got {value}")
    return workers


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
    parser.add_argument(
        "--workers",
        type=_workers,
        default=1,
        help="processes serving the port, each with its own app (default 1; >1 needs MONGODB_URI)",
    )
    parser.set_defaults(handler=_run)


def app_from_env() -> Litestar:
    """One worker's app: settings from the environment, this process's logging, and the
    startup objects frozen out of the GC, as with one worker."""
    from entrypoints.api.app import create_app  # noqa: PLC0415
    from entrypoints.log_config import configure_logging  # noqa: PLC0415

    settings = Settings.from_env(runs_pipeline=True)
    configure_logging(settings)
    return create_app(settings, freeze_startup_objects=True)


def server_options(settings: Settings, *, host: str, port: int) -> dict[str, object]:
    """uvicorn's options for the API (bench/bench_api.py serves its twins with the same)."""
    return {
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        # Logging is ours (entrypoints/log_config.py); the API logs each request itself.
        "log_config": None,
        "access_log": False,
        # Off: the peer stays the peer in the ASGI scope; the rate limiter finds the client
        # behind TRUSTED_PROXIES itself (entrypoints/api/client_address.py).
        "proxy_headers": False,
        "server_header": False,
        # The production stack, named rather than left to "auto" (docs/adr/0011-server-stack.md).
        "loop": "uvloop",
        "http": "httptools",
    }


def serve(
    settings: Settings, *, host: str, port: int, workers: int = 1, factory: str = APP_FACTORY
) -> None:
    """Serve until SIGTERM/SIGINT: in this process with one worker, else under uvicorn's
    supervisor, which starts ``workers`` processes sharing the listening socket (each imports
    ``factory`` and builds its app), replaces one that dies, and on SIGTERM stops them all, each
    finishing its requests in flight and its shutdown first."""
    import uvicorn  # noqa: PLC0415

    options = server_options(settings, host=host, port=port)
    if workers == 1 and factory == APP_FACTORY:
        uvicorn.run(app_from_env(), **options)  # type: ignore[arg-type]
    else:
        uvicorn.run(factory, factory=True, workers=workers, **options)  # type: ignore[arg-type]


def _run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(runs_pipeline=True)
    except SettingsError as exc:
        print(f"orders-service api: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1 and not settings.mongodb_uri:
        print(
            "orders-service api: --workers above 1 needs MONGODB_URI: the in-memory repository "
            "lives in one process, so workers would not see each other's orders",
            file=sys.stderr,
        )
        return 2
    from entrypoints.log_config import configure_logging  # noqa: PLC0415

    # The supervisor's own lines (workers started, stopped) in the same format.
    configure_logging(settings)
    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0
