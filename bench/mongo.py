"""What the Mongo benchmarks share: the server, a database of their own, a timer, the options.

``bench_repository``, ``bench_outbox`` and ``bench_admin`` run on ``MONGODB_TEST_URI`` or on a
SecantusDB daemon started as its own process (in-process it would share the GIL with the client
and blur the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase

from adapters.mongo import close_client, ensure_schema, get_database, make_client

T = TypeVar("T")

#: One timed operation; its argument is the operation's index in the run.
Op = Callable[[int], Awaitable[object]]


@contextmanager
def mongo_server() -> Iterator[tuple[str, str]]:
    """(uri, what) of ``MONGODB_TEST_URI`` or of a SecantusDB daemon run for this benchmark."""
    given = os.environ.get("MONGODB_TEST_URI")
    if given:
        yield given, "MONGODB_TEST_URI"
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon = os.path.join(os.path.dirname(sys.executable), "secantusd-py")
    process = subprocess.Popen(  # noqa: S603 - our own venv's daemon, fixed arguments
        [
            daemon,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage-path",
            ":memory:",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("secantusd-py did not start") from None
                time.sleep(0.05)
        yield f"mongodb://127.0.0.1:{port}/?retryWrites=false", "SecantusDB (secantusd-py)"
    finally:
        process.terminate()
        process.wait(timeout=10)


@asynccontextmanager
async def bench_database(uri: str, driver: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A database of this run's own, schema ensured, dropped afterwards."""
    client = make_client(uri, driver)
    db = get_database(client, f"bench_{uuid.uuid4().hex[:12]}")
    try:
        await ensure_schema(db)
        yield db
    finally:
        await client.drop_database(db.name)
        await close_client(client)


async def timed(op: Op, n: int) -> float:
    """Mean µs per call of ``op`` over ``n`` calls in a row."""
    started = time.perf_counter()
    for i in range(n):
        await op(i)
    return (time.perf_counter() - started) / n * 1e6


def arguments(
    description: str | None, argv: list[str] | None, *, orders: int, ops: int, rounds: int
) -> argparse.Namespace:
    """``--orders``, ``--ops`` (per round and side), ``--rounds`` and ``--driver``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--orders", type=int, default=orders)
    parser.add_argument("--ops", type=int, default=ops, help="operations per round and side")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--driver", choices=("pymongo", "motor"), default="pymongo")
    return parser.parse_args(argv)


def on_a_server(run: Callable[[str], Coroutine[Any, Any, T]]) -> tuple[T, str]:
    """``run(uri)`` on the benchmark's server: its result and which server it was."""
    with mongo_server() as (uri, server):
        return asyncio.run(run(uri)), server
