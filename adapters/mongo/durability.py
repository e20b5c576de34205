"""The write concern the service can get now, as the driver's monitor sees the deployment.

Free for a readiness probe: no command is sent. PyMongo (and Motor, which wraps it) keeps a
description of every member, refreshed by its monitors every ``heartbeatFrequencyMS`` (10 s by
default): which members exist (the primary's member list) and which answer as primary or
secondary. ``w: "majority"`` is acknowledged once a majority of the data-bearing members has the
write: with fewer up, a write waits (for ``wtimeout`` / ``timeoutMS``) and fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from application.ports.durability import Durability

#: Server types (pymongo.server_type.SERVER_TYPE names) that hold data and acknowledge writes.
_DATA_BEARING_UP = frozenset({"RSPrimary", "RSSecondary"})
_ARBITER = "RSArbiter"


def requested_of(document: Mapping[str, Any]) -> str:
    """``{"w": "majority", "j": True}`` as ``w=majority, j=true``; ``{}``: the server's default."""
    if not document:
        return "server default"
    # ``w`` first, whatever order the driver keeps them in.
    keys = sorted(document, key=lambda k: (k != "w", k != "j", k))
    return ", ".join(
        f"{k}={str(document[k]).lower() if isinstance(document[k], bool) else document[k]}"
        for k in keys
    )


def summarize(
    requested: str,
    topology_type: str,
    set_name: str | None,
    servers: Iterable[tuple[str, str]],
) -> Durability:
    """From the driver's view: ``topology_type`` (``ReplicaSetWithPrimary``,
    ``ReplicaSetNoPrimary``, ``Single``, ``Sharded``, ...) and each member's
    ``(address, server type)``, unknown members included."""
    if topology_type.startswith("ReplicaSet"):
        members = [kind for _, kind in servers if kind != _ARBITER]
        up = sum(1 for kind in members if kind in _DATA_BEARING_UP)
        has_primary = topology_type == "ReplicaSetWithPrimary"
        return Durability(
            requested,
            f"replica set {set_name}",
            len(members),
            up,
            has_primary and up > len(members) // 2,
        )
    kinds = {kind for _, kind in servers}
    if topology_type == "Single" and "RSPrimary" in kinds:
        # A direct connection to a replica set's primary: its peers are not monitored.
        return Durability(requested, f"replica set {set_name} (direct)", None, None, None)
    topology = {"Single": "standalone", "Sharded": "sharded", "LoadBalanced": "load balanced"}
    return Durability(requested, topology.get(topology_type, "unknown"), None, None, None)


def durability_of(database: Any) -> Durability:
    """The current view of ``database``'s client (PyMongo ``AsyncDatabase`` or Motor's)."""
    description = database.client.topology_description
    servers = [
        (f"{host}:{port}", server.server_type_name)
        for (host, port), server in description.server_descriptions().items()
    ]
    return summarize(
        requested_of(database.write_concern.document),
        description.topology_type_name,
        description.replica_set_name,
        servers,
    )


class MongoDurabilityProbe:
    """The ``DurabilityProbe`` of the service's database: ``check()`` reads the driver's view."""

    def __init__(self, database: Any) -> None:
        self._database = database

    def check(self) -> Durability:
        return durability_of(self._database)
