"""The stack's supervisor: the sandbox, the API and the worker as child processes (the same
``orders-service sandbox|api|worker`` commands production runs), wired to each other, on the
given Redis and Mongo or embedded ones (``devstack.servers``).

The downstream URLs point at the sandbox, the sandbox posts its webhooks to the API, and all three
share a webhook secret and API keys generated for this run. The children run with
ORDERS_MODE=dev (docs/adr/0008-orders-mode.md). A signal stops everything started, children
first (API, worker, sandbox), the embedded servers last.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from devstack.errors import MissingExtra, StackError
from devstack.ports import LOOPBACK, claim_port
from devstack.servers import check_embedded, embedded_mongo, embedded_redis
from entrypoints.settings import Settings, SettingsError

#: How long a child gets to answer its probe at start.
STARTUP_SECONDS = 60.0
#: The worker's grace on stop: jobs in flight finish (or go back to the queue) within this.
WORKER_GRACE_SECONDS = 10.0
#: A child that has not exited this long after SIGTERM (plus its grace) is killed.
STOP_SECONDS = 10.0


# --- the children -----------------------------------------------------------------------------


@dataclass
class Child:
    """One process in its own process group: an ``orders-service`` subcommand of the stack, or any
    server a test runs. Its output goes line by line, prefixed with its name, to the ``out`` given
    to :meth:`start`, or, with ``log_path``, is appended to that file. Once ended (or killed) it
    may be started again; :meth:`stop` kills every group it ever led."""

    name: str
    argv: list[str]
    grace_seconds: float = 0.0
    log_path: Path | None = None
    #: The environment it starts with, unless :meth:`start` is given one (None: this process's).
    env: Mapping[str, str] | None = None
    process: subprocess.Popen[str] | None = None
    pump: threading.Thread | None = None
    groups: list[int] = field(default_factory=list)

    def start(
        self, env: Mapping[str, str] | None = None, out: Callable[[str], None] | None = None
    ) -> None:
        """Start it with ``env`` (the whole environment), else with its own ``env``."""
        env = self.env if env is None else env
        if self.alive():
            raise StackError(f"{self.name} is already running")
        if self.log_path is not None:
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(f"\n=== start {' '.join(self.argv)}\n")
                log.flush()
                self.process = self._popen(env, log)
        else:
            if out is None:
                raise StackError(f"{self.name}: no log file and no output given")
            self.process = self._popen(env, subprocess.PIPE)
            stream = self.process.stdout
            assert stream is not None
            self.pump = threading.Thread(
                target=_pump, args=(self.name, stream, out), name=f"pump-{self.name}", daemon=True
            )
            self.pump.start()
        self.groups.append(self.process.pid)

    def _popen(self, env: Mapping[str, str] | None, stdout: IO[str] | int) -> subprocess.Popen[str]:
        return subprocess.Popen(  # noqa: S603 - our own interpreter, server and arguments
            self.argv,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            # Its own process group: the terminal's Ctrl-C reaches only us, and we stop the
            # children in order (API first, worker last) with the whole group each time.
            start_new_session=True,
        )

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the group at once: no shutdown code runs, as in a crash."""
        if self.process is not None:
            signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, hurry: Callable[[], bool] = lambda: False, seconds: float | None = None) -> str:
        """SIGTERM the group, wait its grace plus ``STOP_SECONDS`` (or ``seconds``; cut short
        when ``hurry()``), then SIGKILL whatever is left of every group it led. Says how it
        ended."""
        process = self.process
        if process is None:
            return "not started"
        ended = "had exited"
        if process.poll() is None and not hurry():
            signal_group(process.pid, signal.SIGTERM)
            wait = self.grace_seconds + STOP_SECONDS if seconds is None else seconds
            deadline = time.monotonic() + wait
            while process.poll() is None and not hurry() and time.monotonic() < deadline:
                time.sleep(0.05)
            ended = "stopped"
        if process.poll() is None:
            ended = "killed"
        # Also when the leader is gone: nothing it spawned may outlive the stack.
        for pgid in self.groups:
            signal_group(pgid, signal.SIGKILL)
        process.wait()
        if self.pump is not None:
            self.pump.join(timeout=2)
        code = process.returncode
        # uvicorn shuts down cleanly on SIGTERM, then re-raises it: -15 is its normal end.
        how = f"on {signal.Signals(-code).name}" if code < 0 else f"with exit code {code}"
        return f"{ended} ({how})"

    def tail(self, lines: int = 40) -> str:
        """The last ``lines`` of its log file, prefixed with its name ("" without one)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(f"{self.name}| {line}" for line in text[-lines:])


def signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to the process group ``pgid``, if it is still there."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _pump(name: str, stream: IO[str], out: Callable[[str], None]) -> None:
    for line in stream:
        out(f"{name:<8}| {line.rstrip()}")
    stream.close()


def _printer() -> Callable[[str], None]:
    lock = threading.Lock()

    def out(line: str) -> None:
        with lock:
            print(line, flush=True)

    return out


def stack_environment(
    base: Mapping[str, str], *, api_port: int, sandbox_port: int, redis_url: str, mongodb_uri: str
) -> dict[str, str]:
    """The environment of all three children: the caller's, with the wiring set (always: the
    stack talks to its own sandbox) and secrets generated for this run (unless given)."""
    env = dict(base)
    sandbox = f"http://{LOOPBACK}:{sandbox_port}"
    env.update(
        {
            # Explicitly dev (docs/adr/0008-orders-mode.md): the stack's own sandbox and
            # embedded servers stand in for production's.
            "ORDERS_MODE": "dev",
            "MONGODB_URI": mongodb_uri,
            "REDIS_URL": redis_url,
            "PAYMENT_GATEWAY_URL": sandbox,
            "WALLET_API_URL": sandbox,
            "TRANSFER_API_URL": sandbox,
            "SANDBOX_WEBHOOK_URL": f"http://{LOOPBACK}:{api_port}/api/webhooks/payments",
            # The sandbox signs with the first secret, the API accepts any of them.
            "PAYMENT_WEBHOOK_SECRETS": "whsec_" + secrets.token_hex(16),
            "PAYMENT_GATEWAY_API_KEY": "pk_dev_" + secrets.token_hex(12),
            "WALLET_API_KEY": "wk_dev_" + secrets.token_hex(12),
            "TRANSFER_API_KEY": "tk_dev_" + secrets.token_hex(12),
            # NOWPayments, spoken by the same sandbox (used with PAYMENT_PROVIDER=nowpayments):
            # IPNs go to this API's public URL.
            "NOWPAYMENTS_API_URL": sandbox,
            "NOWPAYMENTS_API_KEY": "np_dev_" + secrets.token_hex(12),
            "NOWPAYMENTS_IPN_SECRET": "ipn_dev_" + secrets.token_hex(16),
            "PUBLIC_BASE_URL": f"http://{LOOPBACK}:{api_port}",
            # Order events go to the sandbox's merchant receiver ({sandbox}/sandbox/merchant/
            # events shows what arrived), signed with a secret of this run.
            "ORDER_EVENTS_WEBHOOK_URL": f"{sandbox}/merchant/order-events",
            "ORDER_EVENTS_WEBHOOK_SECRET": "oesec_dev_" + secrets.token_hex(16),
        }
    )
    if not env.get("NOWPAYMENTS_PAY_CURRENCY", "").strip():
        env["NOWPAYMENTS_PAY_CURRENCY"] = "sol"
    # The demo shop ({sandbox}/shop) calls the API from the sandbox's origin, and comes back to it
    # as a create's return_url: allowed, next to whatever origins the caller allows.
    given = [o.strip() for o in env.get("CORS_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    env["CORS_ALLOWED_ORIGINS"] = ",".join(dict.fromkeys([*given, sandbox]))
    if not env.get("MONGODB_DB_NAME", "").strip():
        env["MONGODB_DB_NAME"] = "orders"
    if not env.get("ADMIN_TOKEN", "").strip():
        env["ADMIN_TOKEN"] = secrets.token_urlsafe(24)
    # Children print as they go: their lines are interleaved with the others' by the pumps.
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _children(api_port: int, sandbox_port: int) -> list[Child]:
    cli = [sys.executable, "-m", "entrypoints.cli"]
    return [
        Child("sandbox", [*cli, "sandbox", "--host", LOOPBACK, "--port", str(sandbox_port)]),
        Child("api", [*cli, "api", "--host", LOOPBACK, "--port", str(api_port)]),
        Child(
            "worker",
            [*cli, "worker", "--grace-seconds", str(WORKER_GRACE_SECONDS)],
            grace_seconds=WORKER_GRACE_SECONDS,
        ),
    ]


@dataclass
class StopRequest:
    """Set by SIGINT/SIGTERM; a second one while stopping kills at once."""

    event: threading.Event = field(default_factory=threading.Event)
    count: int = 0

    def __call__(self, signum: int, frame: Any) -> None:
        self.count += 1
        self.event.set()


def _wait_ready(url: str, children: list[Child], stop: StopRequest, deadline: float) -> None:
    """Poll ``url`` until it answers 200; fail early when a child dies or a stop is asked."""
    with httpx.Client(timeout=2.0) as client:
        while True:
            for child in children:
                code = child.exit_code()
                if code is not None:
                    raise StackError(f"{child.name} exited with code {code} while starting")
            if stop.event.is_set():
                raise StackError("stopped while starting")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise StackError(f"{url} did not answer 200 within {STARTUP_SECONDS:.0f} s")
            stop.event.wait(0.2)


def curl_session(api: str, sandbox: str) -> str:
    """A copy-paste shell session: create an order, pay it in the sandbox, see it completed."""
    body = (
        '{"reference_id": "demo-\'"$(date +%s)"\'", "pool_id": "pool-1", '
        '"token_symbol": "USDC", "amount_token": "12.50", "min_amount_token_receive": "12.40", '
        '"price_tolerance_percent": "1.5", "fiat_currency": "EUR", "price_fiat": "13.10", '
        '"passkey": {"credential_id": "cred-demo", "public_key": "pk-demo"}}'
    )

    def field(path: str) -> str:
        return f"python3 -c 'import json,sys; print(json.load(sys.stdin){path})'"

    order_id, payment_id, status = field('["id"]'), field('["payment"]["id"]'), field('["status"]')
    return "\n".join(
        [
            f"ORDER=$(curl -s -X POST {api}/api/orders -H 'content-type: application/json' \\",
            f"  -d '{body}')",
            'echo "$ORDER"',
            f'ORDER_ID=$(echo "$ORDER" | {order_id})',
            f'PAYMENT_ID=$(echo "$ORDER" | {payment_id})',
            "# pay it at the gateway: the sandbox posts the signed webhook to the API",
            f'curl -s -X POST "{sandbox}/sandbox/payments/$PAYMENT_ID/complete" > /dev/null',
            "sleep 2",
            f'curl -s "{api}/api/orders/$ORDER_ID" | {status}',
            "# prints: completed",
        ]
    )


def _banner(
    env: Mapping[str, str], api: str, sandbox: str, redis: str, mongo: str, children: list[Child]
) -> str:
    pids = ", ".join(f"{c.name} {c.process.pid}" for c in children if c.process is not None)
    return "\n".join(
        [
            "",
            "orders-service dev: the stack is up",
            f"  API      {api}   (OpenAPI: {api}/schema, probes: {api}/ready)",
            f"  sandbox  {sandbox}   (payments and their checkout pages)",
            f"  shop     {sandbox}/shop   (a demo storefront: buy in the browser)",
            f"  worker   SAQ on {env['REDIS_URL']} ({redis})",
            f"  store    {env['MONGODB_URI']} db {env['MONGODB_DB_NAME']} ({mongo})",
            f"  admin    ADMIN_TOKEN={env['ADMIN_TOKEN']}",
            f"  pids     {pids} (each the leader of its process group)",
            "",
            "Try it from another shell: create an order, pay it in the sandbox, see it completed:",
            "",
            curl_session(api, sandbox),
            "",
            "Ctrl-C stops everything.",
            "",
        ]
    )


def run_stack(api_port: int, sandbox_port: int, environ: Mapping[str, str]) -> int:
    """Start, serve until a signal or a child's death, stop. The exit code: 0 after a signal,
    1 when a child died or the stack did not start, 2 when an embedded server is needed and the
    ``embedded`` extra is not installed."""
    out = _printer()
    stop = StopRequest()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        settings = Settings.from_env(environ)
        check_embedded(settings.redis_url, settings.mongodb_uri)
        api_port = claim_port(api_port, "--port")
        sandbox_port = claim_port(sandbox_port, "--sandbox-port")
        if api_port == sandbox_port:
            raise StackError("--port and --sandbox-port must differ")
        with (
            embedded_redis(settings.redis_url) as (redis_url, redis_what),
            embedded_mongo(settings.mongodb_uri) as (mongodb_uri, mongo_what),
        ):
            env = stack_environment(
                environ,
                api_port=api_port,
                sandbox_port=sandbox_port,
                redis_url=redis_url,
                mongodb_uri=mongodb_uri,
            )
            # the children would refuse it: say so once, here
            Settings.from_env(env, runs_pipeline=True)
            api = f"http://{LOOPBACK}:{api_port}"
            sandbox = f"http://{LOOPBACK}:{sandbox_port}"
            children = _children(api_port, sandbox_port)
            try:
                for child in children:
                    child.start(env, out)
                deadline = time.monotonic() + STARTUP_SECONDS
                _wait_ready(f"{sandbox}/sandbox/stats", children, stop, deadline)
                _wait_ready(f"{api}/ready", children, stop, deadline)
                out(_banner(env, api, sandbox, redis_what, mongo_what, children))
                return _serve(children, stop, out)
            finally:
                _stop_all(children, stop, out)
    except (StackError, SettingsError) as exc:
        print(f"orders-service dev: {exc}", file=sys.stderr, flush=True)
        return 2 if isinstance(exc, MissingExtra) else 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _serve(children: list[Child], stop: StopRequest, out: Callable[[str], None]) -> int:
    while not stop.event.wait(0.2):
        for child in children:
            code = child.exit_code()
            if code is not None:
                out(f"orders-service dev: {child.name} exited with code {code}; stopping")
                return 1
    return 0


def _stop_all(children: list[Child], stop: StopRequest, out: Callable[[str], None]) -> None:
    """API first (no new orders or webhooks), then the worker (jobs in flight finish), then the
    sandbox; a second Ctrl-C kills what is left at once."""
    if any(c.process is not None for c in children):
        out("orders-service dev: stopping (Ctrl-C again to kill at once)")
    signals_before = stop.count
    by_name = {c.name: c for c in children}
    for name in ("api", "worker", "sandbox"):
        child = by_name.get(name)
        if child is not None and child.process is not None:
            ended = child.stop(lambda: stop.count > signals_before)
            out(f"orders-service dev: {child.name} {ended}")
