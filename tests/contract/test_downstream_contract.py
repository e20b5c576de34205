"""One suite for the three downstream ports, run against the in-process fakes and against the
httpx adapters talking to the sandbox over real HTTP on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from adapters.fakes import (
    FakeClock,
    FakePaymentGateway,
    FakeTokenTransferService,
    FakeWalletService,
)
from application.errors import (
    IdempotencyKeyReused,
    PermanentDownstreamError,
    TransientDownstreamError,
)
from application.ports import (
    PaymentGateway,
    PaymentState,
    TokenTransferService,
    TransferRequest,
    TransferState,
    WalletService,
)
from tests.downstream_requests import payment_request
from tests.downstream_requests import transfer_request as shared_transfer_request
from tests.integration.http.harness import Adapters, SandboxControl, running_sandbox


@dataclass
class Downstreams:
    gateway: PaymentGateway
    wallets: WalletService
    transfers: TokenTransferService
    #: The buyer's side: "complete" or "fail" a payment.
    settle: Callable[[str, str], Awaitable[None]]
    #: How many transfers the transfer service has made.
    transfers_made: Callable[[], Awaitable[int]]


@pytest.fixture(scope="module")
def contract_sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


async def _fakes() -> AsyncIterator[Downstreams]:
    gateway = FakePaymentGateway(FakeClock())
    transfers = FakeTokenTransferService()

    async def settle(payment_id: str, action: str) -> None:
        if action == "complete":
            gateway.complete(payment_id)
        else:
            gateway.fail(payment_id)

    async def made() -> int:
        return len(transfers.transfers)

    yield Downstreams(gateway, FakeWalletService(), transfers, settle, made)


async def _http(url: str) -> AsyncIterator[Downstreams]:
    control = SandboxControl(url)
    await control.reset()
    adapters = Adapters(url)

    async def made() -> int:
        return int((await control.stats())["transfers"])

    try:
        yield Downstreams(
            adapters.gateway, adapters.wallets, adapters.transfers, control.settle, made
        )
    finally:
        await adapters.aclose()
        await control.aclose()


@pytest.fixture(params=["fakes", "http"])
async def downstreams(request: pytest.FixtureRequest) -> AsyncIterator[Downstreams]:
    if request.param == "fakes":
        async for made in _fakes():
            yield made
    else:
        async for made in _http(request.getfixturevalue("contract_sandbox_url")):
            yield made


def transfer_request(amount: str = "100.000001") -> TransferRequest:
    # Six decimals by default: the contract checks amounts survive the wire exactly.
    return shared_transfer_request(amount)


# --- payment gateway ---


async def test_create_payment_answers_a_pending_payment(downstreams: Downstreams) -> None:
    created = await downstreams.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    assert created.id
    assert created.checkout_url
    assert created.status == "pending"
    assert created.amount == Decimal("12.50")
    assert created.currency == "EUR"
    assert created.created_at.tzinfo is not None
    assert created.expires_at > created.created_at


async def test_same_key_and_body_replays_the_payment(downstreams: Downstreams) -> None:
    first = await downstreams.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    again = await downstreams.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    assert again == first


async def test_same_key_other_body_is_refused(downstreams: Downstreams) -> None:
    await downstreams.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    with pytest.raises(IdempotencyKeyReused):
        await downstreams.gateway.create_payment(
            payment_request(amount="13.00"), idempotency_key="ref-1"
        )


async def test_other_keys_make_other_payments(downstreams: Downstreams) -> None:
    one = await downstreams.gateway.create_payment(payment_request("a"), idempotency_key="a")
    two = await downstreams.gateway.create_payment(payment_request("b"), idempotency_key="b")
    assert one.id != two.id


async def test_status_follows_the_buyer(downstreams: Downstreams) -> None:
    paid = await downstreams.gateway.create_payment(payment_request("a"), idempotency_key="a")
    failed = await downstreams.gateway.create_payment(payment_request("b"), idempotency_key="b")
    pending = await downstreams.gateway.get_payment(paid.id)
    assert (pending.status, pending.paid_at) == (PaymentState.PENDING, None)

    await downstreams.settle(paid.id, "complete")
    await downstreams.settle(failed.id, "fail")

    completed = await downstreams.gateway.get_payment(paid.id)
    assert completed.status is PaymentState.COMPLETED
    assert completed.amount == Decimal("12.50")
    assert completed.currency == "EUR"
    assert completed.paid_at is not None
    assert completed.paid_at.tzinfo is not None
    assert (await downstreams.gateway.get_payment(failed.id)).status is PaymentState.FAILED


async def test_unknown_payment_is_a_permanent_error(downstreams: Downstreams) -> None:
    with pytest.raises(PermanentDownstreamError) as caught:
        await downstreams.gateway.get_payment("pay_nobody")
    assert not isinstance(caught.value, IdempotencyKeyReused)
    assert not isinstance(caught.value, TransientDownstreamError)


# --- wallet service ---


async def test_wallet_is_created_once_per_credential(downstreams: Downstreams) -> None:
    first = await downstreams.wallets.create_wallet(
        credential_id="cred-1", public_key="pk-1", idempotency_key="ord_1:create_wallet"
    )
    again = await downstreams.wallets.create_wallet(
        credential_id="cred-1", public_key="pk-1", idempotency_key="ord_1:create_wallet"
    )
    other_order = await downstreams.wallets.create_wallet(
        credential_id="cred-1", public_key="pk-1", idempotency_key="ord_2:create_wallet"
    )
    assert first.created is True
    assert again.created is False
    assert other_order.created is False
    assert first.address == again.address == other_order.address


async def test_other_credentials_get_other_addresses(downstreams: Downstreams) -> None:
    one = await downstreams.wallets.create_wallet(
        credential_id="cred-1", public_key="pk-1", idempotency_key="ord_1:create_wallet"
    )
    two = await downstreams.wallets.create_wallet(
        credential_id="cred-2", public_key="pk-2", idempotency_key="ord_2:create_wallet"
    )
    assert one.address != two.address
    assert two.created is True


# --- token transfer service ---


async def test_transfer_is_made_once_per_key(downstreams: Downstreams) -> None:
    key = "ord_1:send_token"
    first = await downstreams.transfers.send(transfer_request(), idempotency_key=key)
    again = await downstreams.transfers.send(transfer_request(), idempotency_key=key)
    assert again == first
    assert first.status in (TransferState.SUBMITTED, TransferState.CONFIRMED)
    assert await downstreams.transfers_made() == 1


async def test_other_keys_make_other_transfers(downstreams: Downstreams) -> None:
    one = await downstreams.transfers.send(transfer_request(), idempotency_key="ord_1:send_token")
    two = await downstreams.transfers.send(transfer_request(), idempotency_key="ord_2:send_token")
    assert one.id != two.id
    assert await downstreams.transfers_made() == 2


async def test_amounts_keep_every_digit(downstreams: Downstreams) -> None:
    amount = "12345678.123456789012345678"
    sent = await downstreams.transfers.send(
        transfer_request(amount), idempotency_key="ord_1:send_token"
    )
    assert sent.amount_out == Decimal(amount)


async def test_lookup_by_key_finds_the_transfer(downstreams: Downstreams) -> None:
    key = "ord_1:send_token"
    assert await downstreams.transfers.find_by_key(key) is None
    sent = await downstreams.transfers.send(transfer_request(), idempotency_key=key)
    assert await downstreams.transfers.find_by_key(key) == sent
    assert await downstreams.transfers.find_by_key("ord_2:send_token") is None
    assert await downstreams.transfers_made() == 1
