"""Where a request's time goes, layer by layer: the API's ASGI app called in process (no server,
no sockets), CPU µs per request, with parts of the edge taken away one at a time.

The HTTP benchmark (``bench_api``) measures the service as shipped, on the wire; this one is the
experiment behind its "where the time goes": it builds the same app as ``orders-service api``
(``bench_api``'s environment: INFO, JSON lines, a buyer token, the rate limiter on) and drives it
through its ASGI callable directly, so each variant's cost is the app's alone. Variants:

- ``bare``: ``bench_api``'s bare Litestar + msgspec twin (validation and encoding, no I/O);
- ``ours``: the app as shipped; ``ours at WARNING``: the request line left out;
- ``ours, no observability``: without ``ObservabilityMiddleware`` (request id, log context,
  metrics, the request line); ``ours, no rate limit``: without the rate limiter; ``ours, no
  middleware``: without either, Litestar's handler machinery, the buyer's token, the use-case,
  the view;
- ``floor``: the use-cases answer one order made at startup (``bench_api --floor``); ``floor, no
  middleware``: that without both middlewares, i.e. Litestar's machinery and our handler code;
- ``raw route (experiment)``: ADR 0007's option 1 sketched, to measure what it would allow: a
  plain ASGI callable in front of the app that answers the two routes' *happy path* itself
  (request id, log context, a rate-limit count, the buyer's token, the same use-case, the same
  view, the same metrics and request line) and hands everything else to the app. It is not the
  service and has none of the edge's error answers, limits or checks of a bad body.

Taking a middleware away is done for this experiment only, by replacing it in the app factory's
module before the app is built; the service never runs so. Each variant runs in its own process
(``--runs`` times, the median is reported); its log lines go to a temporary file, as a
deployment's go to a collector.

    python -m bench.bench_api_layers [--requests 20000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any

#: name: (server kind, requests that vary from it)
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "bare": ("bare", {}),
    "ours": ("ours", {}),
    "ours at WARNING": ("ours", {"LOG_LEVEL": "warning"}),
    "ours, no observability": ("ours", {"ABLATE": "observability"}),
    "ours, no rate limit": ("ours", {"ABLATE": "rate_limit"}),
    "ours, no middleware": ("ours", {"ABLATE": "observability,rate_limit"}),
    "floor": ("floor", {}),
    "floor, no middleware": ("floor", {"ABLATE": "observability,rate_limit"}),
    "raw route (experiment)": ("raw", {}),
}

Message = MutableMapping[str, Any]
#: An ASGI application (Litestar's, or a middleware's).
ASGI = Callable[..., Coroutine[Any, Any, None]]


class _Passthrough:
    """A middleware that does nothing: what a taken-away layer is replaced with."""

    def __init__(self, app: ASGI) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _scope(method: str, path: str, body_length: int) -> dict[str, Any]:
    from bench.bench_api import BUYER_TOKEN  # noqa: PLC0415

    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {BUYER_TOKEN}".encode())]
    if method == "POST":
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(body_length).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _call(app: ASGI, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(method, path, len(body)), receive, send)
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


async def _start(app: ASGI) -> None:
    """Run the app's lifespan startup (the container, the adapters) and leave it running."""
    queue: asyncio.Queue[Message] = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def receive() -> Message:
        return await queue.get()

    async def send(message: Message) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    asyncio.get_running_loop().create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    )
    await started.wait()


class RawRoutes:
    """The experiment of ADR 0007's option 1: ``POST /api/orders`` and ``GET /api/orders/{id}``
    answered outside Litestar's per-request machinery, with the same per-request work as the
    shipped edge on the happy path (see the module's docstring); anything else to ``app``."""

    PREFIX = "/api/orders/"

    def __init__(self, app: Any) -> None:
        import msgspec  # noqa: PLC0415

        from entrypoints.api.schemas import CreateOrderBody  # noqa: PLC0415

        self.app = app
        self.decode = msgspec.json.Decoder(CreateOrderBody).decode
        self.encode = msgspec.json.Encoder().encode

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from structlog.contextvars import clear_contextvars  # noqa: PLC0415

        from adapters.instrumented.metrics import HTTP_LATENCY, HTTP_REQUESTS, child  # noqa: PLC0415
        from entrypoints import log_config as logs  # noqa: PLC0415
        from entrypoints.api.dependencies import objects_of  # noqa: PLC0415
        from entrypoints.api.observability import request_id_of  # noqa: PLC0415
        from entrypoints.api.rate_limit import _STATE_KEY, _authorization  # noqa: PLC0415
        from entrypoints.api.schemas import OrderView  # noqa: PLC0415

        method, path = scope.get("method"), scope.get("path", "")
        tail = path[len(self.PREFIX) :]
        if scope["type"] == "http" and method == "POST" and path == "/api/orders":
            route, order_id = "/api/orders", None
        elif (
            scope["type"] == "http"
            and method == "GET"
            and path.startswith(self.PREFIX)
            and (tail and "/" not in tail)
        ):
            route, order_id = "/api/orders/{order_id}", tail
        else:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        clear_contextvars()
        logs.bind_request(request_id, order_id=order_id)
        authorization = _authorization(scope)
        objects = objects_of(self.app.state)
        caller = await objects.get("buyer_authenticator").caller(authorization)
        windows = self.app.state[_STATE_KEY]
        key = f"buyer:{caller.buyer_id}"
        count, reset = windows.counts.get(key, (0, 0))
        windows.counts[key] = (count + 1, reset)
        extra: list[tuple[bytes, bytes]] = []
        if order_id is not None:
            order = await objects.get("read_own_order").by_id(order_id, caller)
            body, status = self.encode(OrderView.of(order)), 200
        else:
            chunks = []
            while True:
                message = await receive()
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    break
            data = self.decode(b"".join(chunks))
            logs.bind_order(reference_id=data.reference_id)
            result = await objects.get("create_order").execute(data.to_order_request(), caller)
            logs.bind_order(order_id=result.order.id)
            view = OrderView.of(result.order, client_secret=result.client_secret)
            body, status = self.encode(view), 201
            extra.append((b"location", f"/api/orders/{result.order.id}".encode()))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        elapsed = time.perf_counter() - started
        child(HTTP_REQUESTS, method, route, status).inc()
        child(HTTP_LATENCY, method, route).observe(elapsed)
        logs.http_log.info(
            "request",
            method=method,
            path=path,
            route=route,
            status=status,
            duration_ms=round(elapsed * 1000, 2),
        )


def _build(kind: str) -> ASGI:
    from bench import bench_api  # noqa: PLC0415

    if kind == "bare":
        app: ASGI = bench_api._bare_app()
        return app
    factory = importlib.import_module("entrypoints.api.app")
    from entrypoints.log_config import configure_logging  # noqa: PLC0415
    from entrypoints.settings import Settings  # noqa: PLC0415

    taken = set(filter(None, os.environ.get("ABLATE", "").split(",")))
    if "observability" in taken:
        vars(factory)["ObservabilityMiddleware"] = _Passthrough
    if "rate_limit" in taken:
        vars(factory)["rate_limit_config"] = lambda _: types.SimpleNamespace(
            middleware=_Passthrough
        )
    settings = Settings.from_env(runs_pipeline=True, serves_buyers=True)
    configure_logging(settings)
    configure = bench_api._answer_one_order if kind == "floor" else None
    built: ASGI = factory.create_app(settings, configure=configure)
    if kind == "raw":
        raw: ASGI = RawRoutes(built)
        return raw
    return built


async def _measure(kind: str, what: str, requests: int) -> float:
    """CPU µs per request of ``requests`` creates or gets, after 1000 to warm up."""
    from bench.bench_api import _order  # noqa: PLC0415

    app = _build(kind)
    await _start(app)
    bodies = [json.dumps(_order(i)).encode() for i in range(requests + 1001)]
    status, answer = await _call(app, "POST", "/api/orders", bodies[-1])
    assert status == 201, (status, answer)
    path = f"/api/orders/{json.loads(answer)['id'] if kind != 'bare' else 'x'}"

    async def one(i: int) -> int:
        if what == "get":
            return (await _call(app, "GET", path))[0]
        return (await _call(app, "POST", "/api/orders", bodies[i]))[0]

    for i in range(1000):
        await one(i)
    started = time.process_time()
    statuses = {await one(i) for i in range(1000, 1000 + requests)}
    spent = time.process_time() - started
    assert statuses == ({201} if what == "create" else {200}), statuses
    return spent / requests * 1e6


def _child(kind: str, what: str, requests: int) -> None:
    import uvloop  # noqa: PLC0415

    print(f"{uvloop.run(_measure(kind, what, requests)):.1f}")


def _run(name: str, what: str, requests: int) -> float:
    from bench.bench_api import _env  # noqa: PLC0415

    kind, extra = VARIANTS[name]
    env = {**_env(), **extra}
    with tempfile.TemporaryFile() as logs:
        done = subprocess.run(  # noqa: S603 - this very module
            [sys.executable, "-m", "bench.bench_api_layers", "--child", kind, what],
            env={**env, "BENCH_REQUESTS": str(requests)},
            stdout=subprocess.PIPE,
            stderr=logs,
            check=True,
        )
    return float(done.stdout.decode().strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_api_layers", description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], int(os.environ["BENCH_REQUESTS"]))
        return 0
    load = f"{os.getloadavg()[0]:.2f}"
    results: dict[str, dict[str, list[float]]] = {}
    for name in VARIANTS:
        for what in ("create", "get"):
            spent = [_run(name, what, args.requests) for _ in range(args.runs)]
            results.setdefault(name, {})[what] = spent
    lines = [
        f"In process, {args.requests} requests per variant after 1000 to warm up, median of "
        f"{args.runs} processes; load average {load} before and "
        f"{os.getloadavg()[0]:.2f} after.",
        "",
        "| variant | create µs | get µs | runs (create; get) |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, by in results.items():
        runs = "; ".join(", ".join(f"{v:.0f}" for v in by[w]) for w in ("create", "get"))
        lines.append(
            f"| {name} | {statistics.median(by['create']):.0f} | "
            f"{statistics.median(by['get']):.0f} | {runs} |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
