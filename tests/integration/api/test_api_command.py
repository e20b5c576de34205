"""``orders-service api`` as a user starts it: a real process on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devstack import free_port
from entrypoints.settings import Settings
from tests.support.orders import order_body

CLI = str(Path(sys.executable).with_name("orders-service"))


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    env["ORDERS_MODE"] = "dev"
    env.update(values)
    return env


def test_a_bad_setting_stops_startup_with_exit_code_2_naming_it() -> None:
    result = subprocess.run(  # noqa: S603 - our own console script
        [CLI, "api", "--port", str(free_port())],
        env=_env(PAYMENT_GATEWAY_URL="ftp://gateway"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "PAYMENT_GATEWAY_URL" in result.stderr


def test_the_command_serves_the_api_on_the_given_port() -> None:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
        env=_env(PAYMENT_WEBHOOK_SECRETS="s1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the API did not start within 20 s"
                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def test_more_than_one_worker_without_mongodb_is_refused_naming_it() -> None:
    result = subprocess.run(  # noqa: S603 - our own console script
        [CLI, "api", "--port", str(free_port()), "--workers", "2"],
        env=_env(PAYMENT_WEBHOOK_SECRETS="s1"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "MONGODB_URI" in result.stderr


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _serving_pids(port: int, clients: list[socket.socket], candidates: set[int]) -> set[int]:
    """Which processes hold the server side of these client connections (/proc/net/tcp maps
    each connection to a socket inode, /proc/PID/fd maps the inode to its process)."""
    client_ports = {c.getsockname()[1] for c in clients}
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if local == port and remote in client_ports:
            inodes.add(f"socket:[{fields[9]}]")
    owners = set()
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                if os.readlink(fd) in inodes:
                    owners.add(pid)
            except OSError:
                continue
    return owners


def _ask_health(port: int) -> socket.socket:
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
    answer = client.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    return client


def test_two_workers_both_answer_and_all_stop_on_sigterm(mongo_uri: str, tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        PAYMENT_WEBHOOK_SECRETS="s1", MONGODB_URI=mongo_uri, MONGODB_DB_NAME="api_command_workers"
    )
    # The schema first, as a deployment runs db-init before its processes: two workers creating
    # the same collection at once can wedge SecantusDB (docs/adr/0009-durable-writes.md).
    subprocess.run([CLI, "db-init"], env=env, check=True, timeout=60, capture_output=True)  # noqa: S603
    # A file, not a pipe nobody reads: every request writes a log line, and a full pipe would
    # block the workers' writes (and with them the workers).
    log = tmp_path / "api.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [CLI, "api", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2:
            assert process.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, f"two workers did not answer; saw {workers}"
            try:
                # Connections held open at once, so the two processes share them.
                clients = [_ask_health(port) for _ in range(32)]
            except OSError:
                time.sleep(0.1)
                continue
            try:
                workers |= _serving_pids(port, clients, _children(process.pid))
            finally:
                for client in clients:
                    client.close()

        assert len(workers) == 2
        assert process.pid not in workers
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)

    assert code == 0
    assert not any(_alive(pid) for pid in workers)


def test_trusted_proxies_that_are_not_cidrs_stop_startup_with_exit_code_2_naming_it() -> None:
    result = subprocess.run(  # noqa: S603 - our own console script
        [CLI, "api", "--port", str(free_port())],
        env=_env(PAYMENT_WEBHOOK_SECRETS="s1", TRUSTED_PROXIES="10.0.0.0/8, lb.internal"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "TRUSTED_PROXIES" in result.stderr
    assert "lb.internal" in result.stderr


def test_sigterm_ends_open_event_streams_and_the_api_stops() -> None:
    """uvicorn waits for every open response before it stops: a live event stream would hold a
    SIGTERM off for good. The API ends its streams first (clients reconnect elsewhere)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [CLI, "api", "--host", "127.0.0.1", "--port", str(port)],
        # No heartbeat within the read timeout: a stream left open fails the read, not hangs.
        env=_env(
            PAYMENT_WEBHOOK_SECRETS="s1",
            LOG_LEVEL="warning",
            ORDER_EVENTS_STREAM_HEARTBEAT_SECONDS="600",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "the API exited while starting"
                assert time.monotonic() < deadline, "the API did not start within 20 s"
                time.sleep(0.05)
        order = httpx.post(f"{base}/api/orders", json=order_body("ref-stop")).json()
        headers = {"accept": "text/event-stream"}
        url = f"{base}/api/orders/{order['id']}/events"
        with httpx.stream("GET", url, headers=headers, timeout=10) as stream:
            lines = stream.iter_lines()
            assert next(lines) == "id: 1"  # the stream is open, the order pending: it waits
            process.send_signal(signal.SIGTERM)
            rest = list(lines)  # ends: the server closed it
            assert process.wait(timeout=15) in (0, -signal.SIGTERM)
        assert all(not line.startswith("id:") for line in rest)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
