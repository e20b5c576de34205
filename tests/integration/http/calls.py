"""One call of each contract endpoint through the adapters, for tests parametrized by endpoint."""

from __future__ import annotations

from tests.integration.http.harness import Adapters
from tests.support.downstream_requests import payment_request, transfer_request

ENDPOINTS = ("create_payment", "get_payment", "create_wallet", "send_transfer", "get_transfer")


async def prepare(adapters: Adapters, endpoint: str) -> str | None:
    """What the endpoint needs first (a payment to read); returns its id."""
    if endpoint == "get_payment":
        created = await adapters.gateway.create_payment(
            payment_request("existing"), idempotency_key="existing"
        )
        return created.id
    return None


async def call(adapters: Adapters, endpoint: str, payment_id: str | None = None) -> object:
    if endpoint == "create_payment":
        return await adapters.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    if endpoint == "get_payment":
        assert payment_id is not None
        return await adapters.gateway.get_payment(payment_id)
    if endpoint == "create_wallet":
        return await adapters.wallets.create_wallet(
            credential_id="cred-1", public_key="pk-secret-1", idempotency_key="ord_1:create_wallet"
        )
    if endpoint == "send_transfer":
        return await adapters.transfers.send(transfer_request(), idempotency_key="ord_1:send_token")
    if endpoint == "get_transfer":
        return await adapters.transfers.find_by_key("ord_1:send_token")
    raise AssertionError(endpoint)
