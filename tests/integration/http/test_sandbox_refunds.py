"""The sandbox's refunds, late and other-currency payments and transfer outcomes over HTTP."""

from __future__ import annotations

from decimal import Decimal

import pytest

from application.errors import PermanentDownstreamError, TransientDownstreamError
from application.ports import RefundState, TransferState
from tests.integration.http.harness import Adapters, SandboxControl
from tests.support.downstream_requests import payment_request, transfer_request


async def _paid(sandbox: SandboxControl, adapters: Adapters, ref: str) -> str:
    created = await adapters.gateway.create_payment(payment_request(ref), idempotency_key=ref)
    await sandbox.settle(created.id, "complete")
    return created.id


async def test_a_late_completion_and_another_currency(sandbox: SandboxControl) -> None:
    adapters = Adapters(sandbox.url)
    try:
        created = await adapters.gateway.create_payment(payment_request("a"), idempotency_key="a")
        await sandbox.settle(created.id, "expire")
        refused = await sandbox.client.post(f"/sandbox/payments/{created.id}/complete")
        assert refused.status_code == 409
        late = await sandbox.client.post(
            f"/sandbox/payments/{created.id}/complete", params={"late": "true", "currency": "USD"}
        )
        assert late.status_code == 200, late.text
        status = await adapters.gateway.get_payment(created.id)
        assert (status.status.value, status.currency) == ("completed", "USD")
        other = await adapters.gateway.create_payment(payment_request("b"), idempotency_key="b")
        with pytest.raises(PermanentDownstreamError, match="not_refundable"):
            await adapters.gateway.refund_payment(
                other.id, Decimal("1"), "why", idempotency_key="b:refund"
            )
    finally:
        await adapters.aclose()


async def test_pending_refunds_settle_and_stats_count_them_by_key(
    sandbox: SandboxControl,
) -> None:
    adapters = Adapters(sandbox.url)
    try:
        await sandbox.script("refund_payment", "effect_then_fail", refund_outcome="pending")
        payment_id = await _paid(sandbox, adapters, "a")
        # The first answer is lost after the refund was made; the adapter's retry replays it.
        refund = await adapters.gateway.refund_payment(
            payment_id, Decimal("12.50"), "late", idempotency_key="o:refund"
        )
        assert refund.status is RefundState.PENDING
        settled = await sandbox.client.post("/sandbox/refunds/settle")
        assert settled.status_code == 200
        assert (await adapters.gateway.get_refund(refund.id)).status is RefundState.SUCCEEDED
        stats = await sandbox.stats()
        assert stats["refunds"] == 1
        assert stats["refunds_by_key"]["o:refund"]["requests"] == 2
        assert Decimal(stats["refunds_by_key"]["o:refund"]["amount"]) == Decimal("12.50")
        with pytest.raises(PermanentDownstreamError, match="idempotency_key_reused"):
            await adapters.gateway.refund_payment(
                payment_id, Decimal("1.00"), "late", idempotency_key="o:refund"
            )
        await sandbox.script("refund_payment", "error", "error", "error")
        with pytest.raises(TransientDownstreamError):
            await adapters.gateway.refund_payment(
                payment_id, Decimal("12.50"), "late", idempotency_key="o2:refund"
            )
    finally:
        await adapters.aclose()


async def test_transfers_can_fail_on_chain_or_fall_short(sandbox: SandboxControl) -> None:
    adapters = Adapters(sandbox.url)
    try:
        await sandbox.script("send_transfer", "failed_on_chain", "short_amount")
        failed = await adapters.transfers.send(transfer_request(), idempotency_key="o1:send_token")
        short = await adapters.transfers.send(transfer_request(), idempotency_key="o2:send_token")
        assert failed.status is TransferState.FAILED
        assert failed.failure_reason
        assert short.status is TransferState.CONFIRMED
        assert short.amount_out is not None
        assert short.amount_out < Decimal(transfer_request().min_amount_out)
        again = await adapters.transfers.send(transfer_request(), idempotency_key="o1:send_token")
        assert again == failed
        assert await adapters.transfers.find_by_key("o1:send_token") == failed
    finally:
        await adapters.aclose()
