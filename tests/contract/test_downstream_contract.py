"""One suite for the three downstream ports, run against the in-process fakes and against the
httpx adapters talking to the sandbox over real HTTP on loopback. The payment gateway port also
runs over the NOWPayments adapter against the sandbox's NOWPayments (docs/nowpayments.md)."""

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
    RefundState,
    TokenTransferService,
    TransferRequest,
    TransferState,
    WalletService,
)
from tests.integration.http.harness import Adapters, SandboxControl, running_sandbox
from tests.support.downstream_requests import payment_request
from tests.support.downstream_requests import transfer_request as shared_transfer_request


@dataclass
class Downstreams:
    gateway: PaymentGateway
    wallets: WalletService
    transfers: TokenTransferService
    #: The buyer's side: "complete" or "fail" a payment.
    settle: Callable[[str, str], Awaitable[None]]
    #: How many transfers the transfer service has made.
    transfers_made: Callable[[], Awaitable[int]]
    #: The gateway replays a create under the same idempotency key (NOWPayments: no).
    idempotent: bool = True
    #: The gateway answers a ``checkout_url`` (NOWPayments: ``pay_address``/``pay_amount``).
    hosted_checkout: bool = True


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


async def _nowpayments(url: str) -> AsyncIterator[Downstreams]:
    """The NOWPayments adapter against the sandbox's NOWPayments (the other ports as in http)."""
    control = SandboxControl(url)
    await control.reset()
    adapters = Adapters(url)
    actions = {"complete": "pay", "fail": "fail"}

    async def settle(payment_id: str, action: str) -> None:
        answer = await control.client.post(
            f"/sandbox/nowpayments/{payment_id}/{actions[action]}", params={"ipn": "false"}
        )
        answer.raise_for_status()

    async def made() -> int:
        return int((await control.stats())["transfers"])

    try:
        yield Downstreams(
            adapters.nowpayments,
            adapters.wallets,
            adapters.transfers,
            settle,
            made,
            idempotent=False,
            hosted_checkout=False,
        )
    finally:
        await adapters.aclose()
        await control.aclose()


@pytest.fixture(params=["fakes", "http", "nowpayments"])
async def payments(request: pytest.FixtureRequest) -> AsyncIterator[Downstreams]:
    """The payment gateway port: the fake, the generic gateway's adapter and NOWPayments'."""
    if request.param == "nowpayments":
        async for made in _nowpayments(request.getfixturevalue("contract_sandbox_url")):
            yield made
    else:
        async for made in _downstreams(request):
            yield made


@pytest.fixture(params=["fakes", "http"])
async def downstreams(request: pytest.FixtureRequest) -> AsyncIterator[Downstreams]:
    async for made in _downstreams(request):
        yield made


async def _downstreams(request: pytest.FixtureRequest) -> AsyncIterator[Downstreams]:
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
def _needs_idempotency(payments: Downstreams) -> None:
    if not payments.idempotent:
        pytest.skip("NOWPayments takes no idempotency key (docs/nowpayments.md)")


async def test_create_payment_answers_a_pending_payment(payments: Downstreams) -> None:
    created = await payments.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    assert created.id
    # Where the buyer pays: a hosted page, or (crypto) an amount to send to an address.
    if payments.hosted_checkout:
        assert created.checkout_url
        assert created.pay_address is None
    else:
        assert created.checkout_url is None
        assert created.pay_address
        assert created.pay_amount is not None
        assert created.pay_amount > 0
        assert created.pay_currency
    assert created.status == "pending"
    assert created.amount == Decimal("12.50")
    assert created.currency == "EUR"
    assert created.created_at.tzinfo is not None
    assert created.expires_at is None or created.expires_at > created.created_at


async def test_same_key_and_body_replays_the_payment(payments: Downstreams) -> None:
    # NOWPayments: no key, but the adapter finds the order's payment before making one.
    first = await payments.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    again = await payments.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    assert again == first


async def test_same_key_other_body_is_refused(payments: Downstreams) -> None:
    _needs_idempotency(payments)
    await payments.gateway.create_payment(payment_request(), idempotency_key="ref-1")
    with pytest.raises(IdempotencyKeyReused):
        await payments.gateway.create_payment(
            payment_request(amount="13.00"), idempotency_key="ref-1"
        )


async def test_other_keys_make_other_payments(payments: Downstreams) -> None:
    one = await payments.gateway.create_payment(payment_request("a"), idempotency_key="a")
    two = await payments.gateway.create_payment(payment_request("b"), idempotency_key="b")
    assert one.id != two.id


async def test_status_follows_the_buyer(payments: Downstreams) -> None:
    paid = await payments.gateway.create_payment(payment_request("a"), idempotency_key="a")
    failed = await payments.gateway.create_payment(payment_request("b"), idempotency_key="b")
    pending = await payments.gateway.get_payment(paid.id)
    assert (pending.status, pending.paid_at) == (PaymentState.PENDING, None)

    await payments.settle(paid.id, "complete")
    await payments.settle(failed.id, "fail")

    completed = await payments.gateway.get_payment(paid.id)
    assert completed.status is PaymentState.COMPLETED
    assert completed.amount == Decimal("12.50")
    assert completed.currency == "EUR"
    assert completed.paid_at is not None
    assert completed.paid_at.tzinfo is not None
    assert (await payments.gateway.get_payment(failed.id)).status is PaymentState.FAILED


async def test_unknown_payment_is_a_permanent_error(payments: Downstreams) -> None:
    with pytest.raises(PermanentDownstreamError) as caught:
        await payments.gateway.get_payment("pay_nobody")
    assert not isinstance(caught.value, IdempotencyKeyReused)
    assert not isinstance(caught.value, TransientDownstreamError)


async def test_a_create_whose_answer_was_lost_is_answered_again_not_made_twice(
    payments: Downstreams, contract_sandbox_url: str
) -> None:
    """The hazard docs/nowpayments.md handles: NOWPayments made the payment, the answer was
    lost; the retry must not make a second payment the buyer could pay."""
    if payments.idempotent:
        pytest.skip("this gateway replays on its idempotency key (tested above)")
    control = SandboxControl(contract_sandbox_url)
    try:
        await control.script("nowpayments_create", "effect_then_fail")
        with pytest.raises(TransientDownstreamError):
            await payments.gateway.create_payment(payment_request(), idempotency_key="ref-1")
        again = await payments.gateway.create_payment(payment_request(), idempotency_key="ref-1")
        assert (await control.stats())["nowpayments_payments"] == 1
        other = await payments.gateway.create_payment(payment_request("b"), idempotency_key="b")
        assert other.id != again.id
        assert (await control.stats())["nowpayments_payments"] == 2
    finally:
        await control.aclose()


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


# --- refunds (the generic gateway; NOWPayments has no refund call) ---


def _needs_refunds(payments: Downstreams) -> None:
    if not payments.idempotent:
        pytest.skip("NOWPayments' API has no refund call (docs/refunds.md)")


async def test_a_refund_is_made_once_per_key_and_looked_up_by_id(payments: Downstreams) -> None:
    _needs_refunds(payments)
    paid = await payments.gateway.create_payment(payment_request("a"), idempotency_key="a")
    await payments.settle(paid.id, "complete")
    first = await payments.gateway.refund_payment(
        paid.id, Decimal("12.50"), "late payment", idempotency_key="ord_a:refund"
    )
    again = await payments.gateway.refund_payment(
        paid.id, Decimal("12.50"), "late payment", idempotency_key="ord_a:refund"
    )
    assert again == first
    assert first.payment_id == paid.id
    assert first.amount == Decimal("12.50")
    assert first.status in (RefundState.PENDING, RefundState.SUCCEEDED)
    assert await payments.gateway.get_refund(first.id) == first


async def test_a_payment_never_completed_is_not_refundable(payments: Downstreams) -> None:
    _needs_refunds(payments)
    pending = await payments.gateway.create_payment(payment_request("a"), idempotency_key="a")
    with pytest.raises(PermanentDownstreamError, match="not_refundable"):
        await payments.gateway.refund_payment(
            pending.id, Decimal("12.50"), "why", idempotency_key="ord_a:refund"
        )


async def test_an_unknown_refund_is_a_permanent_error(payments: Downstreams) -> None:
    _needs_refunds(payments)
    with pytest.raises(PermanentDownstreamError):
        await payments.gateway.get_refund("rf_nobody")
