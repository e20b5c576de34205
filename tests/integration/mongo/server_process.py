"""A SecantusDB server in a process of its own (``secantusd-py``), for the tests that kill it.

The session's server (``tests/services.py``) runs inside the test process and cannot be
SIGKILLed; this one can, and restarts on the same port and data directory, so a client made
before the kill reconnects to it as to a restarted production server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from devstack import free_port
from tests.services import unavailable

LOOPBACK = "127.0.0.1"
#: How long the server gets to accept connections (it starts in about 1 s on an idle machine).
START_SECONDS = 60.0


def _daemon() -> str | None:
    beside = Path(sys.executable).with_name("secantusd-py")
    return str(beside) if beside.exists() else shutil.which("secantusd-py")


class SecantusProcess:
    """``secantusd-py`` on a fixed loopback port and data directory; ``kill`` is SIGKILL."""

    def __init__(self, storage: Path, log_path: Path) -> None:
        daemon = _daemon()
        if daemon is None:
            unavailable("a killable Mongo-wire server (secantusd-py is not installed)")
        self.daemon = str(daemon)
        self.storage = storage
        self.log_path = log_path
        self.port = free_port()
        self.popen: subprocess.Popen[bytes] | None = None

    def uri(self, options: str = "") -> str:
        """The server's URI; ``retryWrites=false`` as for the session's server (tests/services.py),
        ``directConnection`` because it advertises a one-member replica set."""
        extra = f"&{options}" if options else ""
        return f"mongodb://{LOOPBACK}:{self.port}/?retryWrites=false&directConnection=true{extra}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - the installed daemon, our arguments
                [
                    self.daemon,
                    "--host",
                    LOOPBACK,
                    "--port",
                    str(self.port),
                    "--storage-path",
                    str(self.storage),
                    "--log-level",
                    "WARNING",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"secantusd-py exited with {self.popen.returncode}, see {self.log_path}"
                )
            try:
                socket.create_connection((LOOPBACK, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"secantusd-py not listening within {START_SECONDS} s"
                    ) from None
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what the server had not made durable is gone."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()
        self.popen = None
