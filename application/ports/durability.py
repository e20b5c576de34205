"""What the store can acknowledge now, for the readiness probe."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Durability:
    """``requested``: the client's write concern (``w=majority, j=true``); ``topology``:
    ``replica set <name>``, ``standalone``, ``sharded``, ``unknown``; ``members`` /
    ``members_up``: data-bearing members listed / answering (replica sets only);
    ``majority_available``: a majority of them answers and one is primary (None: not a replica
    set, where the server decides alone)."""

    requested: str
    topology: str
    members: int | None
    members_up: int | None
    majority_available: bool | None

    @property
    def wants_majority(self) -> bool:
        return self.requested.startswith("w=majority")

    @property
    def blocks_writes(self) -> bool:
        """The client asks for majority and the replica set cannot give it now."""
        return self.wants_majority and self.majority_available is False


class DurabilityProbe(Protocol):
    """Reports the write concern the store can acknowledge now."""

    def check(self) -> Durability:
        """The store's current view, without a round trip of its own."""
