"""``devstack.Child`` as the tests use it: output to a log file, SIGKILL on purpose, a restart, and
a stop that leaves no process of any group it ever led."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from devstack import Child, StackError

#: A parent that prints its name, starts a grandchild in its own group and waits.
_PARENT = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("pid", grandchild.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers signal 0 until reaped: look at its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[-1][:1] != "Z"


def _grandchild(log: Path, starts: int) -> int:
    """The pid the ``starts``-th run printed (polled: the child writes it once running)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = [int(line.split()[1]) for line in log.read_text().splitlines() if line[:4] == "pid "]
        if len(pids) >= starts:
            return pids[starts - 1]
        time.sleep(0.02)
    raise AssertionError(f"no pid line for start {starts}:\n{log.read_text()}")


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_child_logs_to_its_file_restarts_and_leaves_nothing_behind(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    child = Child("parent", [sys.executable, "-c", _PARENT], log_path=log, env=dict(os.environ))
    child.start()
    try:
        first = _grandchild(log, 1)
        with pytest.raises(StackError, match="already running"):
            child.start()

        child.kill()  # SIGKILL to the whole group: the grandchild dies with its parent
        assert not child.alive()
        assert _gone(first)

        child.start()  # a restart, appended to the same log
        second = _grandchild(log, 2)
        assert log.read_text().count("=== start ") == 2
        assert "parent| pid" in child.tail()
        assert child.alive()
    finally:
        ended = child.stop(seconds=5)
    assert ended.startswith("stopped")
    assert not child.alive()
    assert _gone(second)


def test_a_child_without_a_log_file_needs_an_output() -> None:
    child = Child("quiet", [sys.executable, "-c", "pass"])
    with pytest.raises(StackError, match="no log file and no output"):
        child.start()
    assert child.tail() == ""
    assert child.stop() == "not started"


def test_a_child_pumps_its_lines_to_the_output_prefixed() -> None:
    lines: list[str] = []
    child = Child("echo", [sys.executable, "-c", "print('hello')"])
    child.start(dict(os.environ), lines.append)
    deadline = time.monotonic() + 30
    while child.exit_code() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.stop() == "had exited (with exit code 0)"
    assert lines == ["echo    | hello"]
