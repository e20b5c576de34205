"""The sandbox's settings: fixed ones (keys, webhook target) and knobs changeable at run time."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, get_args

import msgspec

#: The contract calls, each with its own faults.
Endpoint = Literal[
    "create_payment",
    "get_payment",
    "refund_payment",
    "get_refund",
    "create_wallet",
    "send_transfer",
    "get_transfer",
    "nowpayments_create",
    "nowpayments_status",
    "nowpayments_list",
]
ENDPOINTS: tuple[Endpoint, ...] = get_args(Endpoint)

#: What a fault does to one call.
#: Before the effect: ``error`` 503, ``timeout`` hang then 504, ``rate_limit`` 429 with
#: ``Retry-After``, ``in_progress`` 409, ``bad_request`` 400, ``slippage`` 422.
#: After the effect: ``effect_then_fail`` 500, ``effect_then_timeout`` hang then 504,
#: ``malformed`` 200 with a body outside the contract.
#: Outcomes of ``send_transfer`` (the call succeeds): ``failed_on_chain`` makes the transfer
#: ``failed`` (final under its key), ``short_amount`` confirms it with ``amount_out`` below
#: ``min_amount_out``.
FaultKind = Literal[
    "error",
    "timeout",
    "rate_limit",
    "in_progress",
    "bad_request",
    "slippage",
    "effect_then_fail",
    "effect_then_timeout",
    "malformed",
    "failed_on_chain",
    "short_amount",
]
AFTER_EFFECT: frozenset[FaultKind] = frozenset(
    {"effect_then_fail", "effect_then_timeout", "malformed"}
)
#: Kinds that change the outcome of a call that succeeds (see ``FaultKind``).
OUTCOMES: frozenset[FaultKind] = frozenset({"failed_on_chain", "short_amount"})


def _check_non_negative(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")


class EndpointFaults(msgspec.Struct, forbid_unknown_fields=True):
    """Random faults of one endpoint (each rate in [0, 1], their sum at most 1), and a script
    of faults that strike the next calls first, one per call, in order."""

    error_rate: float = 0.0
    timeout_rate: float = 0.0
    rate_limit_rate: float = 0.0
    effect_then_fail_rate: float = 0.0
    script: list[FaultKind] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        rates = {
            "error_rate": self.error_rate,
            "timeout_rate": self.timeout_rate,
            "rate_limit_rate": self.rate_limit_rate,
            "effect_then_fail_rate": self.effect_then_fail_rate,
        }
        _check_non_negative(**rates)
        for name, rate in rates.items():
            if rate > 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        if sum(rates.values()) > 1.0:
            raise ValueError("the fault rates of one endpoint must add up to at most 1")

    def weighted(self) -> list[tuple[FaultKind, float]]:
        return [
            ("error", self.error_rate),
            ("timeout", self.timeout_rate),
            ("rate_limit", self.rate_limit_rate),
            ("effect_then_fail", self.effect_then_fail_rate),
        ]


class SandboxKnobs(msgspec.Struct, forbid_unknown_fields=True):
    """What ``GET/PUT /sandbox/config`` reads and replaces (a field left out takes its default)."""

    #: Added to every contract call: ``latency_ms`` plus a uniform ``[0, latency_jitter_ms]``.
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    #: How long a ``timeout`` fault hangs before it answers 504 (longer than the client waits).
    timeout_seconds: float = 30.0
    #: The ``Retry-After`` of a ``rate_limit`` fault, in whole seconds.
    retry_after_seconds: int = 1
    #: Faults per endpoint; an endpoint left out has none.
    faults: dict[Endpoint, EndpointFaults] = msgspec.field(default_factory=dict)
    #: Transfers answer ``confirmed`` at once; False: ``submitted`` until
    #: ``POST /sandbox/transfers/confirm``.
    confirm_transfers: bool = True
    #: What a new refund answers: ``succeeded`` at once, ``failed``, or ``pending`` until
    #: ``POST /sandbox/refunds/settle``.
    refund_outcome: Literal["succeeded", "pending", "failed"] = "succeeded"
    #: Webhook redelivery on a non-2xx answer or no answer: attempts in all, first backoff.
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 1.0
    #: A NOWPayments create with ``case`` moves to that outcome (and sends its IPN) this long
    #: after the answer.
    nowpayments_case_delay_seconds: float = 0.2
    #: The merchant receiver of order events (``POST /merchant/order-events``): the share of
    #: deliveries answered 500 before recording them, the share recorded and then answered 500
    #: (the ack lost: the service sends the event again), and a delay before every answer.
    merchant_fail_rate: float = 0.0
    merchant_fail_after_rate: float = 0.0
    merchant_delay_ms: float = 0.0

    def __post_init__(self) -> None:
        _check_non_negative(
            merchant_fail_rate=self.merchant_fail_rate,
            merchant_fail_after_rate=self.merchant_fail_after_rate,
            merchant_delay_ms=self.merchant_delay_ms,
        )
        if self.merchant_fail_rate + self.merchant_fail_after_rate > 1.0:
            raise ValueError("merchant_fail_rate + merchant_fail_after_rate must be at most 1")
        _check_non_negative(
            latency_ms=self.latency_ms,
            latency_jitter_ms=self.latency_jitter_ms,
            timeout_seconds=self.timeout_seconds,
            retry_after_seconds=self.retry_after_seconds,
            webhook_backoff_seconds=self.webhook_backoff_seconds,
            nowpayments_case_delay_seconds=self.nowpayments_case_delay_seconds,
        )
        if self.webhook_max_attempts < 1:
            raise ValueError("webhook_max_attempts must be at least 1")

    def faults_of(self, endpoint: Endpoint) -> EndpointFaults | None:
        return self.faults.get(endpoint)

    def copy(self) -> SandboxKnobs:
        return msgspec.convert(msgspec.to_builtins(self), SandboxKnobs)


def uniform_faults(
    *,
    error_rate: float = 0.0,
    timeout_rate: float = 0.0,
    rate_limit_rate: float = 0.0,
    effect_then_fail_rate: float = 0.0,
) -> dict[Endpoint, EndpointFaults]:
    """The same random fault rates on every endpoint (what the CLI flags set)."""
    if not any((error_rate, timeout_rate, rate_limit_rate, effect_then_fail_rate)):
        return {}
    return {
        name: EndpointFaults(
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            rate_limit_rate=rate_limit_rate,
            effect_then_fail_rate=effect_then_fail_rate,
        )
        for name in ENDPOINTS
    }


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything ``create_sandbox_app`` needs. An empty API key accepts any bearer token."""

    payment_api_key: str = ""
    wallet_api_key: str = ""
    transfer_api_key: str = ""
    #: Where payment webhooks go (e.g. http://127.0.0.1:8000/api/webhooks/payments); None: none.
    webhook_url: str | None = None
    #: The HMAC secret webhooks are signed with (the first of PAYMENT_WEBHOOK_SECRETS).
    webhook_secret: str | None = None
    #: Base of ``checkout_url`` (None: the URL the request came to).
    public_url: str | None = None
    #: NOWPayments (docs/nowpayments.md): the ``x-api-key`` accepted ("" accepts any non-empty
    #: key) and the secret IPNs are signed with (None: no IPN is sent).
    nowpayments_api_key: str = ""
    nowpayments_ipn_secret: str | None = None
    #: The secret order-event webhooks are verified with (ORDER_EVENTS_WEBHOOK_SECRET); None:
    #: the merchant receiver refuses every delivery (401).
    merchant_events_secret: str | None = None
    #: Seed of the fault and latency draws (None: unseeded).
    seed: int | None = None
    #: The knobs at start; ``POST /sandbox/reset`` goes back to them.
    knobs: SandboxKnobs = field(default_factory=SandboxKnobs)
