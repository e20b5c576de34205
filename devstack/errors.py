"""What goes wrong starting the dev stack, said so that the user knows what to do."""

from __future__ import annotations


class StackError(Exception):
    """The stack (or one of its servers) could not be started; the message says why."""


class MissingExtra(StackError):
    """An embedded server is needed but its package is not installed."""
