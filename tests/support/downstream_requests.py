"""Request bodies for the downstream ports, shared by the contract suite and the adapter tests."""

from __future__ import annotations

from decimal import Decimal

from application.ports import PaymentRequest, TransferRequest


def payment_request(reference_id: str = "ref-1", amount: str = "12.50") -> PaymentRequest:
    return PaymentRequest(
        reference_id=reference_id,
        amount=Decimal(amount),
        currency="EUR",
        description="100 USDC",
        order_id=f"ord_{reference_id}",
        pool_id="pool-usdc",
    )


def transfer_request(amount: str = "100") -> TransferRequest:
    return TransferRequest(
        destination="0xabc0000000000000000000000000000000000001",
        pool_id="pool-usdc",
        token_symbol="USDC",
        amount=Decimal(amount),
        min_amount_out=Decimal("99"),
        slippage_percent=Decimal("1.5"),
    )
