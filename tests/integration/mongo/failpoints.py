"""A client of the test's own on the test's database, whose next commands can be made to fail
on the server (``failCommand``) without touching any other client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

Db = AsyncDatabase[dict[str, Any]]


@dataclass(frozen=True)
class FaultyClient:
    """``database``: the test's database through a client named ``app_name``; ``armer``: the same
    database through the test's ordinary client, which arms the failpoints."""

    database: Db
    app_name: str
    armer: Db

    async def fail_next(self, command: str, **data: Any) -> None:
        """The next ``command`` of this client only fails as ``data`` says."""
        try:
            await self.armer.client.admin.command(
                "configureFailPoint",
                "failCommand",
                mode={"times": 1},
                data={"failCommands": [command], "appName": self.app_name, **data},
            )
        except OperationFailure as exc:  # a mongod started without enableTestCommands
            pytest.skip(f"the server has no failCommand failpoint: {exc}")
