"""``orders-service dev`` as the README runs it: nothing installed (embedded Redis and Mongo-wire
server), the curl session it prints works as printed, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from devstack import free_port, signal_group
from entrypoints.settings import Settings
from tests import services
from tests.e2e.stack import orders_service, wait_until

PROC = Path("/proc")
SESSION_START = "ORDER=$(curl"
SESSION_END = "# prints: completed"


def descendants(root: int) -> set[int]:
    """Every live process under ``root`` (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@dataclass
class DevRun:
    process: subprocess.Popen[bytes]
    output: Path
    api_port: int
    #: Filled by the test while dev runs: killed at the end whatever happened.
    children: set[int] = field(default_factory=set)

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevRun]:
    if not PROC.is_dir():
        pytest.skip("needs Linux /proc to find the children")
    if shutil.which("curl") is None:
        services.unavailable("curl (the printed session uses it)")
    api_port, sandbox_port = free_port(), free_port()
    # As on a fresh machine: none of the service's settings, so Redis and Mongo are embedded.
    env = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    env["PYTHONUNBUFFERED"] = "1"
    output = tmp_path / "dev.log"
    with output.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own script
            [orders_service(), "dev", "--port", str(api_port), "--sandbox-port", str(sandbox_port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Like a shell's foreground job: Ctrl-C is a SIGINT to this whole group.
            start_new_session=True,
        )
    run = DevRun(process, output, api_port)
    try:
        yield run
    finally:
        if process.poll() is None:
            run.children |= descendants(process.pid)
        # The children run in process groups of their own (their pid).
        for pid in run.children:
            signal_group(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        signal_group(process.pid, signal.SIGKILL)
        process.wait()


def lines_once_settled(dev: DevRun, *, quiet_for: float = 2.0, within: float = 30) -> list[str]:
    """The output's lines once it has not grown for ``quiet_for`` seconds."""
    deadline = time.monotonic() + within
    lines, since = dev.text().splitlines(), time.monotonic()
    while time.monotonic() - since < quiet_for:
        assert time.monotonic() < deadline, "dev kept logging:\n" + "\n".join(lines[-20:])
        time.sleep(0.2)
        now = dev.text().splitlines()
        if len(now) != len(lines):
            lines, since = now, time.monotonic()
    return lines


def test_dev_runs_the_printed_session_and_ctrl_c_stops_everything(dev: DevRun) -> None:
    def banner_printed() -> bool:
        if dev.process.poll() is not None:
            raise AssertionError(f"dev exited with {dev.process.returncode}:\n{dev.text()}")
        return "Ctrl-C stops everything." in dev.text()

    wait_until(banner_printed, seconds=90, what="dev printed its banner")
    text = dev.text()
    assert f"http://127.0.0.1:{dev.api_port}" in text
    start = text.index(SESSION_START)
    session = text[start : text.index(SESSION_END, start)]

    dev.children |= descendants(dev.process.pid)
    # The sandbox, the API, the worker and the embedded valkey server, at least.
    assert len(dev.children) >= 4, dev.children

    done = subprocess.run(  # noqa: S603 - the session the command printed
        ["bash", "-c", session],  # noqa: S607 - bash from PATH, as a user's shell
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "completed", done.stdout + dev.text()

    # The demo shop the banner names is served, and the API lets its origin call it.
    shop = re.search(r"shop\s+(http://127\.0\.0\.1:\d+)/shop", text)
    assert shop is not None, text
    sandbox = shop.group(1)
    assert httpx.get(f"{sandbox}/shop", timeout=10).status_code == 200
    preflight = httpx.options(
        f"http://127.0.0.1:{dev.api_port}/api/orders",
        headers={
            "Origin": sandbox,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == sandbox

    # Idle, the stack writes nothing (issue 21): no line per cron pass, poll or heartbeat. Once
    # the order's last lines are out (a relay pass, a webhook), five seconds stay silent.
    settled = lines_once_settled(dev)
    time.sleep(5)
    idle = dev.text().splitlines()[len(settled) :]
    assert idle == [], "an idle dev stack logged:\n" + "\n".join(idle[:20])

    # Ctrl-C: SIGINT to the foreground group (dev and the embedded valkey).
    os.killpg(dev.process.pid, signal.SIGINT)
    assert dev.process.wait(timeout=60) == 0, dev.text()[-3000:]
    wait_until(
        lambda: not any(alive(pid) for pid in dev.children),
        seconds=10,
        what=f"every child of dev gone: {dev.children}",
    )
    # Each one stopped on SIGTERM, in order (API, worker, sandbox): none had to be killed.
    stops = [
        line.split()[2:4]
        for line in dev.text().splitlines()
        if line.startswith("orders-service dev: ") and (" stopped (" in line or " killed (" in line)
    ]
    assert stops == [["api", "stopped"], ["worker", "stopped"], ["sandbox", "stopped"]], stops
