"""``orders-service settings``: the settings table, or ``.env.example``, generated from the
declarations in entrypoints/settings.py.

    orders-service settings --write README.md          # the table between the markers
    orders-service settings --write docs/settings.md
    orders-service settings --format env --write .env.example
"""

from __future__ import annotations

import argparse
from pathlib import Path

from entrypoints.settings_docs import env_example, markdown_table, render_into


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "settings",
        help="print (or write into a file) the settings table or .env.example",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--format",
        choices=("table", "env"),
        default="table",
        help="table: Markdown (default); env: the whole .env.example",
    )
    parser.add_argument(
        "--write",
        type=Path,
        help="table: rewrite the table between the markers of this Markdown file; "
        "env: write this file",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    text = markdown_table() + "\n" if args.format == "table" else env_example()
    path: Path | None = args.write
    if path is None:
        print(text, end="")
    elif args.format == "table":
        path.write_text(render_into(path.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        path.write_text(text, encoding="utf-8")
    return 0
