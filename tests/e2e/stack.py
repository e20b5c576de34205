"""Real processes for the end-to-end tests: ``orders-service sandbox|api|worker`` started as a
user would, each in its own process group (``devstack.Child``), output to a log file, killed for
sure at the end."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import redis

from devstack import LOOPBACK, Child, free_port
from devstack import stack_environment as dev_stack_environment
from entrypoints.settings import Settings

#: How long a process gets to answer its probe.
START_SECONDS = 60.0


def orders_service() -> str:
    """The console script installed next to this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("orders-service")
    if script.exists():
        return str(script)
    found = shutil.which("orders-service")
    if found is None:
        raise RuntimeError("the orders-service script is not installed (pip install -e .)")
    return found


def wait_until(
    condition: Callable[[], bool], *, seconds: float, every: float = 0.2, what: str = ""
) -> None:
    """Poll ``condition`` until it holds; AssertionError naming ``what`` past the deadline (a
    bound against hanging, not a measure of speed)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(every)


#: From SIGTERM to SIGKILL when a test stops a process.
STOP_SECONDS = 15.0


def process(name: str, argv: list[str], env: Mapping[str, str], log_path: Path) -> Child:
    """One ``orders-service`` subcommand as these tests run it: devstack's child with a fixed
    environment and its output appended to ``log_path``; ``kill`` is SIGKILL, ``start`` again
    restarts it, ``stop`` kills every group it ever led."""
    return Child(name, argv, log_path=log_path, env=env)


def log_of(child: Child) -> Path:
    """The log file of a child made by :func:`process`."""
    assert child.log_path is not None, f"{child.name} writes no log file"
    return child.log_path


def isolated_redis(url: str) -> str:
    """The test's Redis with a database index of its own (the queue name is fixed: ``orders``),
    cleared of SAQ keys left by an earlier run that was killed, and of circuit breaker states
    (shared by every process of a stack: one module's open circuit is not the next one's)."""
    parts = urlsplit(url)
    if parts.path.strip("/"):
        isolated = url
    else:
        isolated = urlunsplit(parts._replace(path=f"/{1 + os.getpid() % 15}"))
    client = redis.Redis.from_url(isolated)
    try:
        keys = [
            *client.scan_iter(match="saq:*", count=1000),
            *client.scan_iter(match="orders-service:breaker:*", count=1000),
        ]
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    return isolated


@dataclass
class Stack:
    """The sandbox, the API and the worker, wired to each other, with their URLs."""

    sandbox: Child
    api: Child
    worker: Child
    api_url: str
    sandbox_url: str
    webhook_secret: str
    #: Every process's environment (the settings they were started with).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def processes(self) -> tuple[Child, ...]:
        return (self.sandbox, self.api, self.worker)

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def restart_worker(self) -> None:
        self.worker.start()


def stack_environment(
    *,
    redis_url: str,
    mongodb_uri: str,
    api_port: int,
    sandbox_port: int,
    webhook_secret: str,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """``orders-service dev``'s wiring (``devstack.stack_environment``) with fixed keys and a
    database of the test's own; nothing of the caller's own settings leaks in."""
    base = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    env = dev_stack_environment(
        base,
        api_port=api_port,
        sandbox_port=sandbox_port,
        redis_url=redis_url,
        mongodb_uri=mongodb_uri,
    )
    env.update(
        {
            "MONGODB_DB_NAME": f"e2e_{uuid.uuid4().hex[:12]}",
            "PAYMENT_GATEWAY_API_KEY": "pk_e2e",
            "PAYMENT_WEBHOOK_SECRETS": webhook_secret,
            "WALLET_API_KEY": "wk_e2e",
            "TRANSFER_API_KEY": "tk_e2e",
            **extra,
        }
    )
    return env


@contextlib.contextmanager
def running_stack(
    *, redis_url: str, mongodb_uri: str, logs: Path, extra_env: Mapping[str, str]
) -> Iterator[Stack]:
    """Start the three processes, wait for their probes, and kill every group they ever had on
    exit, whatever happened (a failed start included)."""
    api_port, sandbox_port = free_port(), free_port()
    secret = "whsec_" + secrets.token_hex(16)
    env = stack_environment(
        redis_url=redis_url,
        mongodb_uri=mongodb_uri,
        api_port=api_port,
        sandbox_port=sandbox_port,
        webhook_secret=secret,
        extra=extra_env,
    )
    script = orders_service()
    on = ["--host", LOOPBACK, "--port"]
    stack = Stack(
        sandbox=process(
            "sandbox",
            [script, "sandbox", *on, str(sandbox_port), "--seed", "7"],
            env,
            logs / "sandbox.log",
        ),
        api=process("api", [script, "api", *on, str(api_port)], env, logs / "api.log"),
        worker=process(
            "worker", [script, "worker", "--grace-seconds", "5"], env, logs / "worker.log"
        ),
        api_url=f"http://{LOOPBACK}:{api_port}",
        sandbox_url=f"http://{LOOPBACK}:{sandbox_port}",
        webhook_secret=secret,
        env=env,
    )
    try:
        # The schema first, by one process: SecantusDB can wedge when two processes create the
        # same collection at once (the API and the worker both ensure it at startup).
        subprocess.run(  # noqa: S603 - our own script and arguments
            [script, "db-init"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=START_SECONDS,
        )
        for child in stack.processes:
            child.start()
        _wait_for(f"{stack.sandbox_url}/sandbox/stats", stack)
        _wait_for(f"{stack.api_url}/ready", stack)
        yield stack
    finally:
        for child in (stack.api, stack.worker, stack.sandbox):
            child.stop(seconds=STOP_SECONDS)


def _wait_for(url: str, stack: Stack) -> None:
    def answers() -> bool:
        for child in stack.processes:
            if not child.alive():
                raise AssertionError(f"{child.name} exited while starting:\n{stack.logs()}")
        try:
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(answers, seconds=START_SECONDS, what=f"{url} answers 200")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from None


#: Short timings, so that re-checks, retries and the stuck-order sweep happen within seconds.
FAST = {
    "PENDING_RECHECK_SECONDS": "1",
    "STUCK_STEP_LEASE_SECONDS": "3",
    "RETRY_BACKOFF_BASE_SECONDS": "0.2",
    "RETRY_BACKOFF_MAX_SECONDS": "1",
    # Never parked: with 30 % of calls failing, an order may need many attempts.
    "RETRY_MAX_ATTEMPTS": "1000",
    # Few jobs at once, so that a kill always lands on a run with work in flight.
    "WORKER_CONCURRENCY": "4",
    "HTTP_READ_TIMEOUT_SECONDS": "3",
    # 30 % faults open the breaker now and then; a short reset keeps the run in seconds.
    "HTTP_BREAKER_RESET_SECONDS": "2",
    "LOG_LEVEL": "info",
    # The test polls its 50 orders from one address; the per-client limit is not under test.
    "RATE_LIMIT_PER_MINUTE": "1000000",
}
