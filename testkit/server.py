"""Serve an ASGI app with uvicorn on a loopback port, in process: in a background thread
(:func:`serve_in_thread`, for synchronous callers and apps that must not share the caller's event
loop) or as a task in the caller's event loop (:func:`serve_in_loop`, so a test can look into the
app's objects between calls). How tests start the sandbox, the API or a webhook receiver without a
subprocess."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import uvicorn

LOOPBACK = "127.0.0.1"


def loopback_socket(host: str = LOOPBACK) -> socket.socket:
    """A TCP socket bound to a free port of ``host``, for the server to listen on: the port is
    known (:func:`url_of`) before the app is built, and never raced for."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # socket says it is TCP; without it keep-alive answers wait on delayed ACKs.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://<host>:<port>`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def _config(app: Any, http: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="on",
        log_level="warning",
        access_log=False,
        ws="none",
        http=http,
        timeout_graceful_shutdown=2,
        # In-process servers stand for outside services or for the API under test: no server
        # header of uvicorn's.
        server_header=False,
    )


@contextmanager
def serve_in_thread(
    app: Any,
    *,
    sock: socket.socket | None = None,
    http: str = "auto",
    startup_timeout: float = 10.0,
) -> Iterator[str]:
    """Yield the base URL while ``app`` serves in a thread of its own; stop on exit.

    ``sock`` (from :func:`loopback_socket`) when the URL must be known before the app is built;
    it is closed on exit either way."""
    sock = sock or loopback_socket()
    url = url_of(sock)
    server = uvicorn.Server(_config(app, http))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{url}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the server on {url} did not start")
        time.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()


class _LoopServer(uvicorn.Server):
    """uvicorn, told to stop by an event rather than noticing on its 0.1 s tick: tests start and
    stop many servers, and the tick alone would add seconds to a suite."""

    stopping: asyncio.Event

    async def main_loop(self) -> None:
        self.stopping = asyncio.Event()
        await self.on_tick(0)  # sets the Date header once
        await self.stopping.wait()

    def stop(self) -> None:
        # Not force_exit: that would skip the lifespan shutdown.
        self.should_exit = True
        self.stopping.set()


@asynccontextmanager
async def serve_in_loop(
    app: Any, *, sock: socket.socket | None = None, http: str = "h11"
) -> AsyncIterator[str]:
    """Yield the base URL while ``app`` serves as a task of the running event loop; stop (with
    the lifespan shutdown) on exit. ``sock`` as for :func:`serve_in_thread`."""
    sock = sock or loopback_socket()
    url = url_of(sock)
    server = _LoopServer(_config(app, http))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"the server on {url} stopped before it started")
            await asyncio.sleep(0.002)
        yield url
    finally:
        if server.started:
            server.stop()
        else:
            server.should_exit = True
        await task
        sock.close()
