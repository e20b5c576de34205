"""Loopback ports for the stack's servers."""

from __future__ import annotations

import socket

from devstack.errors import StackError

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def claim_port(port: int, flag: str) -> int:
    """The port to use (a free one for 0); :class:`StackError` naming ``flag`` when it is
    taken."""
    if port == 0:
        return free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise StackError(f"port {port} is in use ({exc.strerror}); pass {flag} PORT") from None
    return port
