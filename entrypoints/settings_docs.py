"""Everything written about the settings, generated from their declarations in
``entrypoints/settings.py``: the environment section of ``--help``, the Markdown table of README.md
and docs/settings.md, and ``.env.example``. ``orders-service settings`` prints or writes them;
tests/unit/test_settings_docs.py fails when a written copy drifts."""

from __future__ import annotations

import textwrap
from typing import Any

from entrypoints.settings import GATEWAY, Var, declared

BEGIN = "<!-- BEGIN GENERATED: orders-service settings -->"
END = "<!-- END GENERATED -->"


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def default_text(var: Var, default: Any) -> str:
    """What the variable is when unset, in words."""
    if var.required:
        when = f" with PAYMENT_PROVIDER={var.provider}" if var.provider else ""
        return f"required in production{when}" + (f"; {var.unset}" if var.unset else "")
    if default in (None, "", ()):
        return f"unset: {var.unset}" if var.unset else "unset"
    return _shown(default)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table() -> str:
    """The settings table (README.md's "Configuration", docs/settings.md)."""
    rows = [
        "| variable | default | accepts | what it sets |",
        "| --- | --- | --- | --- |",
    ]
    for _, var, default in declared():
        shown = default_text(var, default)
        if not var.required and default not in (None, "", ()):
            shown = f"`{shown}`"
        rows.append(
            f"| `{var.env}` | {_cell(shown)} | {_cell(var.parse.accepts())} | {_cell(var.help)} |"
        )
    return "\n".join(rows)


def render_into(document: str) -> str:
    """``document`` with the table between its markers replaced by the current one."""
    head, found, rest = document.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"the document lacks the markers {BEGIN!r} … {END!r}")
    return f"{head}{BEGIN}\n{markdown_table()}\n{END}{tail}"


def environment_help() -> str:
    """The environment section of ``orders-service api|worker --help``."""
    lines = [
        "environment (docs/settings.md); ORDERS_MODE=production, the default, needs every "
        "variable marked *:"
    ]
    for _, var, default in declared():
        mark = "*" if var.required else " "
        text = f"{var.help} [{default_text(var, default)}]".replace("`", "")
        wrapped = textwrap.wrap(text, width=66) or [""]
        lines.append(f"  {var.env + mark:<31} {wrapped[0]}")
        lines.extend(f"  {'':<31} {more}" for more in wrapped[1:])
    return "\n".join(lines)


ENV_HEADER = """\
# orders-service settings: a production configuration (ORDERS_MODE=production, the default).
# Generated from entrypoints/settings.py by `orders-service settings --format env`: edit there.
# `api` and `worker` refuse to start (exit code 2, one message naming every problem) while a
# variable marked "required in production" is unset or any value is invalid. Replace every
# change-me value and keep the real secrets out of version control. Set ORDERS_MODE=dev to let
# unset storage, queue and downstreams fall back to in-memory stand-ins (never in production).
"""


def env_example() -> str:
    """The whole of ``.env.example``."""
    out = [ENV_HEADER]
    group = None
    for _, var, default in declared():
        if var.group != group:
            group = var.group
            out.append(f"\n# --- {group} " + "-" * (93 - len(group)) + "\n")
        unset = default_text(var, default)
        about = f"{var.help}. Accepts: {var.parse.accepts()}; default: {unset}."
        for line in textwrap.wrap(about.replace("`", ""), width=98):
            out.append(f"# {line}\n")
        # Another provider's settings are shown commented out: this example uses the default one.
        other_provider = var.provider and var.provider != GATEWAY
        out.append(f"{'# ' if other_provider else ''}{var.env}={var.example}\n")
    return "".join(out)
