"""The passkey smart-wallet port over HTTP."""

from __future__ import annotations

from adapters.http import wire
from adapters.http.caller import HttpAdapter
from application.ports import Wallet

SERVICE = "wallet_service"


class HttpWalletService(HttpAdapter):
    """``WalletService`` over ``POST /v1/wallets``: 201 ``created: true`` the first time, 200
    ``created: false`` when the credential's wallet exists (a success, not an error).

    The passkey's public key is sent in the body only: it is never logged.
    """

    service = SERVICE

    async def create_wallet(
        self, *, credential_id: str, public_key: str, idempotency_key: str
    ) -> Wallet:
        body = wire.CreateWalletBody(
            passkey_credential_id=credential_id, passkey_public_key=public_key
        )
        return await self._calls.call(
            "POST",
            "/v1/wallets",
            _wallet,
            body=wire.encoder.encode(body),
            idempotency_key=idempotency_key,
        )


def _wallet(status: int, content: bytes) -> Wallet:
    return wire.wallet_decoder.decode(content).to_port()
