"""Driver errors translated into the application's words.

- 11000 (unique index) -> ``DuplicateOrder`` naming the key (``id``, ``reference_id``,
  ``payment.id``);
- 121 (document failed validation) -> logged with the document id, ``OrderDocumentRejected``:
  the codec wrote something the validator refuses, which is a bug in this service;
- network errors, timeouts, no primary -> ``InfrastructureUnavailable("mongodb", ...)``,
  transient: the caller may try again (a compare-and-set write is safe to repeat);
- a write or read concern the server cannot give (79, 100, 148) -> ``ConcernRejected``: the
  configuration asks for something this deployment cannot do, never silently weakened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WaitQueueTimeoutError,
    WriteError,
    WTimeoutError,
)

from application.errors import DuplicateOrder, InfrastructureUnavailable

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
DOCUMENT_VALIDATION_FAILURE = 121
#: Write concerns the deployment cannot satisfy (a tag it does not know, more members than it
#: has) and majority reads it does not offer (mongod started with majority reads disabled).
UNKNOWN_WRITE_CONCERN = 79
UNSATISFIABLE_WRITE_CONCERN = 100
READ_CONCERN_MAJORITY_NOT_ENABLED = 148
CONCERN_CODES = frozenset(
    {UNKNOWN_WRITE_CONCERN, UNSATISFIABLE_WRITE_CONCERN, READ_CONCERN_MAJORITY_NOT_ENABLED}
)

#: Index key -> the name the port's ``DuplicateOrder`` uses for it.
_KEY_NAMES = {"_id": "id", "reference_id": "reference_id", "payment.id": "payment.id"}


class OrderDocumentRejected(RuntimeError):
    """The server's validator refused a document this service wrote: a bug, never bad input."""

    def __init__(self, document_id: str, details: object) -> None:
        super().__init__(
            f"MongoDB rejected the document of order {document_id!r} (validator, code 121): "
            f"{details}"
        )
        self.document_id = document_id
        self.details = details


class ConcernRejected(RuntimeError):
    """The server refuses the write or read concern the client asks for: a configuration to fix
    in ``MONGODB_URI`` (docs/adr/0009-durable-writes.md), not an outage. Never weakened silently:
    a write acknowledged without its concern is exactly what this service must not promise."""

    def __init__(self, action: str, code: int | None, details: object) -> None:
        super().__init__(
            f"{action}: MongoDB refuses the configured write/read concern (code {code}): "
            f"{details}. Set w=, journal= or readConcernLevel= in MONGODB_URI to what this "
            "deployment offers (docs/mongo.md, Durability)"
        )
        self.action = action
        self.code = code
        self.details = details


def duplicate_key(exc: DuplicateKeyError, document: Mapping[str, Any]) -> DuplicateOrder:
    """Which unique key a duplicate-key error is about, and the value that collided."""
    details = exc.details or {}
    pattern = details.get("keyPattern") or {}
    key = next(iter(pattern), None)
    if key is None:  # servers before 4.4 only say it in the message
        message = str(details.get("errmsg", exc))
        key = next((k for k in ("payment.id", "reference_id") if k in message), "_id")
    value = (details.get("keyValue") or {}).get(key)
    if value is None:
        value = document.get("payment", {}).get("id") if key == "payment.id" else document.get(key)
    return DuplicateOrder(_KEY_NAMES.get(key, key), str(value))


def rejected(exc: WriteError, document_id: str) -> OrderDocumentRejected:
    """The validator's refusal of a write (code 121) as ``OrderDocumentRejected``, logged with
    the server's explanation: a bug in this service, never the caller's input."""
    info = (exc.details or {}).get("errInfo")
    log.error("mongodb validator rejected order document %s: %s", document_id, info, exc_info=exc)
    return OrderDocumentRejected(document_id, info)


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Turn the transient driver errors of ``action`` into ``InfrastructureUnavailable``."""
    try:
        yield
    except (ConnectionFailure, WaitQueueTimeoutError, ExecutionTimeout, WTimeoutError) as exc:
        # ConnectionFailure covers AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError.
        raise InfrastructureUnavailable("mongodb", f"{action}: {exc}") from exc
    except OperationFailure as exc:
        if exc.code in CONCERN_CODES:
            log.error("mongodb refused the configured concern: %s", exc)
            raise ConcernRejected(action, exc.code, exc) from exc
        if exc.has_error_label("RetryableWriteError") or exc.has_error_label(
            "TransientTransactionError"
        ):
            raise InfrastructureUnavailable("mongodb", f"{action}: {exc}") from exc
        raise
    except PyMongoError as exc:
        # With timeoutMS set, an expired operation budget can surface as other error classes.
        if exc.timeout:
            raise InfrastructureUnavailable("mongodb", f"{action}: {exc}") from exc
        raise
