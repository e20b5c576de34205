"""The token transfer port over HTTP."""

from __future__ import annotations

from urllib.parse import quote

from adapters.http import wire
from adapters.http.caller import HttpAdapter
from application.ports import Transfer, TransferRequest

SERVICE = "transfer_service"


class HttpTokenTransferService(HttpAdapter):
    """``TokenTransferService`` over ``POST /v1/transfers`` (at most once per ``Idempotency-Key``)
    and ``GET /v1/transfers/by-key/{key}`` (404: no transfer was ever made under the key).

    A 422 ``slippage_exceeded`` is a ``PermanentDownstreamError`` carrying that reason.
    """

    service = SERVICE

    async def send(self, request: TransferRequest, *, idempotency_key: str) -> Transfer:
        return await self._calls.call(
            "POST",
            "/v1/transfers",
            _transfer,
            body=wire.encoder.encode(wire.CreateTransferBody.of(request)),
            idempotency_key=idempotency_key,
        )

    async def find_by_key(self, idempotency_key: str) -> Transfer | None:
        return await self._calls.call(
            "GET",
            f"/v1/transfers/by-key/{quote(idempotency_key, safe='')}",
            _transfer_or_none,
            accept=(404,),
        )


def _transfer(status: int, content: bytes) -> Transfer:
    return wire.transfer_decoder.decode(content).to_port()


def _transfer_or_none(status: int, content: bytes) -> Transfer | None:
    if status == 404:
        return None
    return _transfer(status, content)
