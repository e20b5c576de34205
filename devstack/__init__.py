"""The embedded dev stack: Redis and Mongo-wire servers started on demand, free loopback ports,
and the supervisor that runs the sandbox, the API and the worker wired to each other.

Used by ``orders-service dev`` (``entrypoints/commands/dev.py``, the CLI only) and by the tests;
never by the running service (import-linter)."""

from devstack.errors import MissingExtra, StackError
from devstack.ports import LOOPBACK, claim_port, free_port
from devstack.servers import EXTRA, check_embedded, embedded_mongo, embedded_redis
from devstack.supervisor import Child, curl_session, run_stack, signal_group, stack_environment

__all__ = [
    "EXTRA",
    "LOOPBACK",
    "Child",
    "MissingExtra",
    "StackError",
    "check_embedded",
    "claim_port",
    "curl_session",
    "embedded_mongo",
    "embedded_redis",
    "free_port",
    "run_stack",
    "signal_group",
    "stack_environment",
]
