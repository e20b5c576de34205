"""The effect happened but the answer was lost: the same key finds it, nothing happens twice."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from adapters.http import CallRetryPolicy
from application.errors import DownstreamTimeout, TransientDownstreamError
from tests.integration.http.calls import call
from tests.integration.http.harness import Adapters, SandboxControl
from tests.support.downstream_requests import transfer_request

KEY = "ord_1:send_token"


@pytest.fixture
async def one_shot(sandbox: SandboxControl) -> AsyncIterator[Adapters]:
    """Adapters that give up after one attempt, as a process that died would."""
    made = Adapters(sandbox.url, retry=CallRetryPolicy(attempts=1))
    try:
        yield made
    finally:
        await made.aclose()


async def test_a_transfer_answered_with_an_error_is_found_again_by_its_key(
    sandbox: SandboxControl, one_shot: Adapters
) -> None:
    await sandbox.script("send_transfer", "effect_then_fail")
    with pytest.raises(TransientDownstreamError) as caught:
        await one_shot.transfers.send(transfer_request(), idempotency_key=KEY)
    assert "500" in caught.value.reason
    made = await sandbox.transfers()
    assert [t["key"] for t in made] == [KEY]  # the tokens did go out

    again = await one_shot.transfers.send(transfer_request(), idempotency_key=KEY)

    assert again.id == made[0]["id"]
    stats = await sandbox.stats()
    assert (stats["transfers"], stats["duplicates_refused"]) == (1, 1)


async def test_a_retry_within_the_call_sends_the_same_key(
    sandbox: SandboxControl, adapters: Adapters
) -> None:
    await sandbox.script("send_transfer", "effect_then_fail")

    transfer = await adapters.transfers.send(transfer_request(), idempotency_key=KEY)

    assert await sandbox.calls("send_transfer") == 2
    made = await sandbox.transfers()
    assert [(t["key"], t["id"], t["amount"]) for t in made] == [(KEY, transfer.id, "100")]
    assert (await sandbox.stats())["duplicates_refused"] == 1


async def test_a_timed_out_transfer_is_reconciled_by_lookup(
    sandbox: SandboxControl, one_shot: Adapters
) -> None:
    await sandbox.script("send_transfer", "effect_then_timeout")
    with pytest.raises(DownstreamTimeout):
        await one_shot.transfers.send(transfer_request(), idempotency_key=KEY)
    found = await one_shot.transfers.find_by_key(KEY)
    assert found is not None
    assert [t["id"] for t in await sandbox.transfers()] == [found.id]


async def test_a_lost_wallet_answer_gives_the_same_address(
    sandbox: SandboxControl, one_shot: Adapters
) -> None:
    await sandbox.script("create_wallet", "effect_then_fail")
    with pytest.raises(TransientDownstreamError):
        await call(one_shot, "create_wallet")
    wallet = await call(one_shot, "create_wallet")
    assert getattr(wallet, "created", None) is False
    stats = await sandbox.stats()
    assert (stats["wallets"], stats["wallets_existing"]) == (1, 1)


async def test_a_lost_payment_answer_replays_the_payment(
    sandbox: SandboxControl, one_shot: Adapters
) -> None:
    await sandbox.script("create_payment", "effect_then_fail")
    with pytest.raises(TransientDownstreamError):
        await call(one_shot, "create_payment")
    await call(one_shot, "create_payment")
    stats = await sandbox.stats()
    assert (stats["payments"], stats["payment_replays"]) == (1, 1)
