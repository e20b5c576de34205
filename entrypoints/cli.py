"""``orders-service``: one console script, one subcommand per module in ``entrypoints.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Each module defines ``register(subparsers)``, which adds its subcommand and sets ``handler``
#: (a function taking the parsed args and returning the exit code).
COMMAND_MODULES = (
    "entrypoints.commands.simulate",
    "entrypoints.commands.api",
    "entrypoints.commands.state_diagram",
    "entrypoints.commands.db_init",
    "entrypoints.commands.worker",
    "entrypoints.commands.retry",
    "entrypoints.commands.sandbox",
    "entrypoints.commands.dev",
    "entrypoints.commands.settings",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orders-service",
        description="Order and payment orchestration: fiat in, tokens in a passkey smart wallet.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
