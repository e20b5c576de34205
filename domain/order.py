"""The Order aggregate and its transition table.

Plain Python only: no I/O, no framework. Every status change goes through
:meth:`Order._move`, which consults :data:`TRANSITIONS` and the wallet guard.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain import grammar
from domain.errors import InvalidOrder, InvalidTransition
from domain.events import EventType, OrderEvent, Value, event_id
from domain.refund import REFUND_KEY_SUFFIX, Refund, RefundCause, RefundStatus


class OrderStatus(StrEnum):
    """The eight order statuses, spelled as they are stored and shown: never renamed (the
    documents already in the ``orders`` collection use them; docs/mongo.md)."""

    PENDING = "pending"
    COMPLETED_PAY = "completed_pay"
    FAILED_PAY = "failed_pay"
    CREATING_WALLET = "creating_wallet"
    CREATE_WALLET_FAIL = "create_wallet_fail"
    SENDING_TOKEN_TO_SMARTWALLET = "sending_token_to_smartwallet"
    SEND_TOKEN_TO_SMARTWALLET_FAIL = "send_token_to_smartwallet_fail"
    COMPLETED = "completed"


#: Each status and the statuses it may move to. Code, tests and docs read this one table.
TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset({OrderStatus.COMPLETED_PAY, OrderStatus.FAILED_PAY}),
    OrderStatus.COMPLETED_PAY: frozenset(
        {OrderStatus.CREATING_WALLET, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET}
    ),
    OrderStatus.CREATING_WALLET: frozenset(
        {OrderStatus.SENDING_TOKEN_TO_SMARTWALLET, OrderStatus.CREATE_WALLET_FAIL}
    ),
    OrderStatus.CREATE_WALLET_FAIL: frozenset({OrderStatus.CREATING_WALLET}),
    OrderStatus.SENDING_TOKEN_TO_SMARTWALLET: frozenset(
        {OrderStatus.COMPLETED, OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL}
    ),
    OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL: frozenset(
        {OrderStatus.SENDING_TOKEN_TO_SMARTWALLET}
    ),
    OrderStatus.FAILED_PAY: frozenset(),
    OrderStatus.COMPLETED: frozenset(),
}

TERMINAL_STATUSES = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
FAIL_STATUSES = frozenset(
    {OrderStatus.CREATE_WALLET_FAIL, OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL}
)
#: Statuses announcing a side effect in flight; an order left here by a crash is resumed.
IN_FLIGHT_STATUSES = frozenset(
    {OrderStatus.CREATING_WALLET, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET}
)
#: Paid orders mid-pipeline: one left here untouched past the lease was dropped by a crashed
#: worker (or a lost job) and is resumed by the sweeper.
RESUMABLE_STATUSES = frozenset({OrderStatus.COMPLETED_PAY, *IN_FLIGHT_STATUSES})


class Step(StrEnum):
    """A side-effecting step of the pipeline; its value is the idempotency-key suffix."""

    CREATE_WALLET = "create_wallet"
    SEND_TOKEN = "send_token"


#: The fail status of each step and the status a retry of it moves back to.
STEP_OF_FAIL_STATUS: Mapping[OrderStatus, Step] = {
    OrderStatus.CREATE_WALLET_FAIL: Step.CREATE_WALLET,
    OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL: Step.SEND_TOKEN,
}
STATUS_OF_STEP: Mapping[Step, OrderStatus] = {
    Step.CREATE_WALLET: OrderStatus.CREATING_WALLET,
    Step.SEND_TOKEN: OrderStatus.SENDING_TOKEN_TO_SMARTWALLET,
}


def allowed_targets(status: OrderStatus, *, has_wallet: bool) -> frozenset[OrderStatus]:
    """The table's targets for ``status``, narrowed by the wallet guard."""
    targets = TRANSITIONS[status]
    if status is OrderStatus.COMPLETED_PAY:
        wanted = (
            OrderStatus.SENDING_TOKEN_TO_SMARTWALLET if has_wallet else OrderStatus.CREATING_WALLET
        )
        return frozenset(t for t in targets if t is wanted)
    if status is OrderStatus.CREATE_WALLET_FAIL and has_wallet:
        return frozenset()
    return targets


def to_milliseconds(moment: datetime) -> datetime:
    """``moment`` cut to whole milliseconds: the one precision of every time the service keeps
    and shows (Mongo's own), so a first answer, its replays and every read are the same bytes."""
    return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)


# --- the request -----------------------------------------------------------------------

MAX_TOKEN_AMOUNT = Decimal("1e15")
MAX_TOKEN_DECIMALS = 18
MAX_FIAT_AMOUNT = Decimal("1e12")
MAX_FIAT_DECIMALS = 4
MAX_PERCENT_DECIMALS = 4


def _decimal_problem(
    value: object,
    *,
    max_decimals: int,
    below: Decimal,
    positive: bool = True,
) -> str | None:
    if not isinstance(value, Decimal):
        return "must be a decimal number"
    if not value.is_finite():
        return "must be a finite number"
    if positive and value <= 0:
        return "must be greater than 0"
    if not positive and (value < 0 or value.is_signed()):
        return "must not be negative"  # "-0" too: a sign where none may be
    if value >= below:
        return f"must be less than {below:f}"
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite decimals have an int exponent
    if -exponent > max_decimals:
        return f"must have at most {max_decimals} decimal places"
    return None


def _tolerance_problem(value: object) -> str | None:
    if isinstance(value, Decimal) and value.is_finite() and value > 100:
        return "must be between 0 and 100"
    return _decimal_problem(
        value, max_decimals=MAX_PERCENT_DECIMALS, below=Decimal(101), positive=False
    )


_TOKEN_AMOUNT = functools.partial(
    _decimal_problem, max_decimals=MAX_TOKEN_DECIMALS, below=MAX_TOKEN_AMOUNT
)

#: The rule of each field of a request, on its typed value (Decimals for amounts); dotted paths
#: for the passkey's fields. Each answers the problem in plain words, or None.
FIELD_RULES: Mapping[str, Callable[[object], str | None]] = {
    "reference_id": grammar.IDENTIFIER.problem,
    "pool_id": grammar.IDENTIFIER.problem,
    "token_symbol": grammar.TOKEN_SYMBOL.problem,
    "amount_token": _TOKEN_AMOUNT,
    "min_amount_token_receive": _TOKEN_AMOUNT,
    "price_tolerance_percent": _tolerance_problem,
    "fiat_currency": grammar.currency_problem,
    "price_fiat": functools.partial(
        _decimal_problem, max_decimals=MAX_FIAT_DECIMALS, below=MAX_FIAT_AMOUNT
    ),
    "passkey.credential_id": grammar.CREDENTIAL_ID.problem,
    "passkey.public_key": grammar.PUBLIC_KEY.problem,
    "smart_wallet_address": grammar.WALLET_ADDRESS.problem,
    "return_url": grammar.RETURN_URL.problem,
}

#: Fields a request may leave out: None there means "none given".
OPTIONAL_FIELDS = frozenset({"smart_wallet_address", "return_url"})


def request_problems(values: Mapping[str, object]) -> list[tuple[str, str]]:
    """Every broken rule among ``values`` (a field's typed value by its name in
    :data:`FIELD_RULES`; fields absent are not checked), as ``(field, words)``, in the order
    given. None in an :data:`OPTIONAL_FIELDS` field means "none given"."""
    found: list[tuple[str, str]] = []
    for name, value in values.items():
        if value is None and name in OPTIONAL_FIELDS:
            continue
        if (words := FIELD_RULES[name](value)) is not None:
            found.append((name, words))
    amount = values.get("amount_token")
    minimum = values.get("min_amount_token_receive")
    if (
        isinstance(amount, Decimal)
        and isinstance(minimum, Decimal)
        # Only two valid amounts compare (a NaN would raise).
        and not any(n in ("amount_token", "min_amount_token_receive") for n, _ in found)
        and minimum > amount
    ):
        found.append(("min_amount_token_receive", "must not exceed amount_token"))
    return found


@dataclass(frozen=True, slots=True)
class Passkey:
    """The buyer's passkey: the smart wallet is derived from it."""

    credential_id: str
    public_key: str

    def __post_init__(self) -> None:
        found = request_problems(
            {"passkey.credential_id": self.credential_id, "passkey.public_key": self.public_key}
        )
        if found:
            raise InvalidOrder.of(found)


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What the buyer asked for, validated. Equal requests replay; different ones conflict.
    Amounts compare by value; the edge hands them over canonical (``grammar.parse_decimal``)."""

    reference_id: str
    pool_id: str
    token_symbol: str
    amount_token: Decimal
    min_amount_token_receive: Decimal
    price_tolerance_percent: Decimal
    fiat_currency: str
    price_fiat: Decimal
    passkey: Passkey
    smart_wallet_address: str | None = None
    #: Where the gateway's checkout page sends the buyer back after paying or failing.
    return_url: str | None = None

    def __post_init__(self) -> None:
        # The common case first, without building anything; every problem once one is found.
        for name, rule in _REQUEST_CHECKS:
            value = getattr(self, name)
            if rule(value) is not None and not (value is None and name in OPTIONAL_FIELDS):
                break
        else:
            if self.min_amount_token_receive <= self.amount_token:
                return
        raise InvalidOrder.of(request_problems({n: getattr(self, n) for n, _ in _REQUEST_CHECKS}))


#: The request's own fields and their rules (the passkey checks its own).
_REQUEST_CHECKS = tuple(
    (name, rule) for name, rule in FIELD_RULES.items() if not name.startswith("passkey.")
)


# --- values recorded on the order -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Payment:
    """The gateway's payment for this order, normalised.

    A gateway with a hosted page gives ``checkout_url``; a crypto gateway (NOWPayments) gives
    instead what the buyer must send and where: ``pay_amount`` of ``pay_currency`` to
    ``pay_address``.
    """

    id: str
    token: str
    checkout_url: str | None
    status: str
    amount: Decimal
    currency: str
    created_at: datetime | None = None
    expires_at: datetime | None = None
    pay_address: str | None = None
    pay_amount: Decimal | None = None
    pay_currency: str | None = None
    #: What the buyer sent when it was less than asked (an under-payment, crypto gateway):
    #: kept for a refund. None: no under-payment seen.
    paid_amount: Decimal | None = None
    paid_currency: str | None = None


def underpaid_reason(paid: str, currency: str, asked: str | None) -> str:
    """The history line of an under-payment (amounts as decimal text)."""
    of = "" if asked is None else f" of {asked} {currency} asked"
    return f"underpaid: {paid} {currency} received{of}; not paid"


@dataclass(frozen=True, slots=True)
class TransferResult:
    """What the transfer service answered for this order's one transfer."""

    transfer_id: str
    status: str
    tx_signature: str | None
    amount_out: Decimal | None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One line of the status history."""

    status: OrderStatus
    at: datetime
    reason: str = ""


#: Order ids are derived from the reference id, so every retry of a create names the same order
#: (and sends the gateway the same body under the same idempotency key).
ORDER_ID_NAMESPACE = uuid.UUID("6f1c3a52-6d0e-4a3e-9b2f-7f0d5f0b9a11")


_NAMESPACE_BYTES = ORDER_ID_NAMESPACE.bytes


@functools.lru_cache(maxsize=1024)
def order_id_for(reference_id: str) -> str:
    """The deterministic order id of a reference id: ``str(uuid.uuid5(ORDER_ID_NAMESPACE,
    reference_id))``, computed without building a ``UUID`` object (a third of the cost, on the
    create path), and cached: a create derives it twice, once for the gateway body and once for
    the order."""
    # SHA-1 because RFC 4122 says so for version 5; it names an order, it protects nothing.
    sha1 = hashlib.sha1(_NAMESPACE_BYTES + reference_id.encode(), usedforsecurity=False)
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(slots=True, eq=False)
class Order:
    """The aggregate: mutated only through its methods, saved with compare-and-set on version."""

    id: str
    request: OrderRequest
    payment: Payment
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    smart_wallet_address: str | None = None
    version: int = 0
    history: list[StatusChange] = field(default_factory=list)
    attempts: dict[Step, int] = field(default_factory=dict)
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    parked: bool = False
    parked_reason: str | None = None
    transfer: TransferResult | None = None
    #: Every event the order recorded, oldest first: sequence n is ``events[n - 1]``. Stored in
    #: the same write as the state they describe (the outbox, ADR 0013).
    events: list[OrderEvent] = field(default_factory=list)
    #: How many of ``events`` are stored; the rest were recorded since the last read or save.
    #: Kept by the repositories, never stored itself.
    stored_events: int = 0
    #: When the event relay should next look at this order (None: nothing left to look at).
    #: Kept by the repositories and the relay (ADR 0016); the domain never reads it.
    relay_due_at: datetime | None = None
    #: The order's one refund, if any. Once there is one, the fulfilment has ended for good.
    refund: Refund | None = None
    #: Which transfer key the send step uses: 1 is ``<order id>:send_token``, n > 1 is
    #: ``<order id>:send_token:<n>`` (an operator re-sent after a transfer failed on chain).
    send_generation: int = 1

    @classmethod
    def place(cls, request: OrderRequest, payment: Payment, *, at: datetime) -> Order:
        """A new order, pending payment."""
        order = cls(
            id=order_id_for(request.reference_id),
            request=request,
            payment=payment,
            status=OrderStatus.PENDING,
            created_at=at,
            updated_at=at,
            smart_wallet_address=request.smart_wallet_address,
            history=[StatusChange(OrderStatus.PENDING, at, "order created")],
        )
        order._record(EventType.CREATED, at, reference_id=request.reference_id)
        return order

    # --- read-only views of the request ---
    @property
    def reference_id(self) -> str:
        return self.request.reference_id

    @property
    def pool_id(self) -> str:
        return self.request.pool_id

    @property
    def token_symbol(self) -> str:
        return self.request.token_symbol

    @property
    def amount_token(self) -> Decimal:
        return self.request.amount_token

    @property
    def min_amount_token_receive(self) -> Decimal:
        return self.request.min_amount_token_receive

    @property
    def price_tolerance_percent(self) -> Decimal:
        return self.request.price_tolerance_percent

    @property
    def fiat_currency(self) -> str:
        return self.request.fiat_currency

    @property
    def price_fiat(self) -> Decimal:
        return self.request.price_fiat

    @property
    def passkey(self) -> Passkey:
        return self.request.passkey

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def idempotency_key(self, step: Step) -> str:
        """The key every attempt of ``step`` for this order carries: ``<order id>:<step>``
        (``:<generation>`` appended to the transfer's after an operator's re-send)."""
        if step is Step.SEND_TOKEN and self.send_generation > 1:
            return f"{self.id}:{step.value}:{self.send_generation}"
        return f"{self.id}:{step.value}"

    def send_token_keys(self) -> list[str]:
        """Every transfer key this order has used or uses, oldest first."""
        return [f"{self.id}:{Step.SEND_TOKEN.value}"] + [
            f"{self.id}:{Step.SEND_TOKEN.value}:{n}" for n in range(2, self.send_generation + 1)
        ]

    @property
    def refund_key(self) -> str:
        """The refund's idempotency key: ``<order id>:refund`` (one refund per order)."""
        return f"{self.id}:{REFUND_KEY_SUFFIX}"

    @property
    def fulfilment_ended(self) -> bool:
        """A refund was requested: no step runs again, whatever happens to the refund."""
        return self.refund is not None

    def attempts_of(self, step: Step) -> int:
        return self.attempts.get(step, 0)

    # --- events ---
    @property
    def new_events(self) -> list[OrderEvent]:
        """The events recorded since the order was read or last saved: what the next save
        stores with it (and what a lost compare-and-set stores none of)."""
        return self.events[self.stored_events :]

    def events_stored(self) -> None:
        """Called by a repository once the order and all its events are written (or read)."""
        self.stored_events = len(self.events)

    def _record(self, kind: EventType, at: datetime, **data: Value) -> None:
        if self.refund is not None:
            data = {"refund": self.refund.status.value, **data}
        sequence = len(self.events) + 1
        self.events.append(
            OrderEvent(
                id=event_id(self.id, sequence),
                order_id=self.id,
                sequence=sequence,
                type=kind,
                at=to_milliseconds(at),
                data={"status": self.status.value, **data},
            )
        )

    def can_move_to(self, target: OrderStatus) -> bool:
        has_wallet = self.smart_wallet_address is not None
        return target in allowed_targets(self.status, has_wallet=has_wallet)

    # --- moves ---
    def _move(self, target: OrderStatus, at: datetime, reason: str = "") -> None:
        if not self.can_move_to(target):
            why = ""
            if target in TRANSITIONS[self.status]:
                why = "wallet guard: " + (
                    "order already has a wallet"
                    if self.smart_wallet_address is not None
                    else "order has no wallet yet"
                )
            raise InvalidTransition(self.id, self.status.value, target.value, why)
        self.status = target
        self.updated_at = at
        self.history.append(StatusChange(target, at, reason))

    def _start(self, step: Step, at: datetime, reason: str) -> None:
        self._move(STATUS_OF_STEP[step], at, reason)
        self.attempts[step] = self.attempts_of(step) + 1
        self.next_attempt_at = None

    def record_payment_status(self, status: str) -> None:
        """Keep the gateway's latest word on the payment (no status move by itself)."""
        if self.payment.status != status:
            self.payment = replace(self.payment, status=status)

    def record_underpayment(
        self, paid: Decimal, currency: str, asked: Decimal | None, at: datetime
    ) -> bool:
        """The buyer sent ``paid`` of ``currency``, less than ``asked``: kept on the payment (a
        refund needs it), a history line and ``order.payment_underpaid``; the order stays
        pending. True when recorded; the same amount again records nothing."""
        if self.status is not OrderStatus.PENDING:
            raise InvalidTransition(self.id, self.status.value, self.status.value, "not pending")
        if self.payment.paid_amount == paid and self.payment.paid_currency == currency:
            return False
        self.payment = replace(self.payment, paid_amount=paid, paid_currency=currency)
        self.updated_at = at
        paid_text = f"{paid:f}"
        asked_text = None if asked is None else f"{asked:f}"
        self.history.append(
            StatusChange(self.status, at, underpaid_reason(paid_text, currency, asked_text))
        )
        self._record(
            EventType.PAYMENT_UNDERPAID,
            at,
            paid_amount=paid_text,
            paid_currency=currency,
            pay_amount=asked_text,
        )
        return True

    def payment_still_pending(self, at: datetime) -> None:
        """The gateway was asked and the payment is still pending: note when (the poller checks
        the longest-unchecked orders first), without a history line per check."""
        if self.status is not OrderStatus.PENDING:
            raise InvalidTransition(self.id, self.status.value, self.status.value, "not pending")
        self.updated_at = at

    def mark_paid(self, at: datetime) -> None:
        self._move(OrderStatus.COMPLETED_PAY, at, "gateway reports the payment completed")
        self._record(EventType.PAID, at)

    def mark_payment_failed(self, at: datetime, reason: str) -> None:
        self._move(OrderStatus.FAILED_PAY, at, reason)
        self._record(EventType.PAYMENT_FAILED, at, reason=reason)

    def next_step(self) -> Step:
        """Which step a paid order (or a failed step) goes to next."""
        if self.status in STEP_OF_FAIL_STATUS:
            return STEP_OF_FAIL_STATUS[self.status]
        return Step.SEND_TOKEN if self.smart_wallet_address is not None else Step.CREATE_WALLET

    def start_step(self, step: Step, at: datetime) -> None:
        """Announce ``step``: the status saved *before* the outside call."""
        if self.refund is not None:
            raise InvalidTransition(
                self.id, self.status.value, STATUS_OF_STEP[step], "fulfilment ended: refunded"
            )
        retry = self.status in FAIL_STATUSES
        self._start(step, at, f"retry {self.attempts_of(step) + 1}" if retry else "")
        self._record(
            EventType.STEP_STARTED, at, step=step.value, attempt=self.attempts[step], retry=retry
        )

    def wallet_created(self, address: str, at: datetime) -> None:
        """The wallet exists: record it and announce the transfer in the same move."""
        if self.status is not OrderStatus.CREATING_WALLET:
            raise InvalidTransition(
                self.id, self.status.value, OrderStatus.SENDING_TOKEN_TO_SMARTWALLET
            )
        if not address:
            raise InvalidOrder("smart_wallet_address", "wallet service returned an empty address")
        self.smart_wallet_address = address
        self.last_error = None
        self._start(Step.SEND_TOKEN, at, f"wallet {address} ready")
        self._record(
            EventType.WALLET_CREATED,
            at,
            address=address,
            attempt=self.attempts_of(Step.CREATE_WALLET),
        )

    def step_failed(self, at: datetime, reason: str, *, retry_at: datetime | None) -> None:
        """The in-flight step failed. ``retry_at`` None parks the order for a person."""
        fail = {
            OrderStatus.CREATING_WALLET: OrderStatus.CREATE_WALLET_FAIL,
            OrderStatus.SENDING_TOKEN_TO_SMARTWALLET: OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL,
        }.get(self.status)
        if fail is None:
            raise InvalidTransition(self.id, self.status.value, "<fail>", "no step in flight")
        step = STEP_OF_FAIL_STATUS[fail]
        self._move(fail, at, reason)
        self.last_error = reason
        # A backoff of fractional seconds lands between milliseconds: keep the one precision.
        self.next_attempt_at = None if retry_at is None else to_milliseconds(retry_at)
        self._record(
            EventType.STEP_FAILED,
            at,
            step=step.value,
            attempt=self.attempts_of(step),
            reason=reason,
            retry_at=None
            if self.next_attempt_at is None
            else self.next_attempt_at.isoformat(timespec="milliseconds"),
        )
        if retry_at is None:
            self.park(at, reason)

    def transfer_confirmed(self, result: TransferResult, at: datetime) -> None:
        """A confirmed transfer: completed, unless it delivered less than
        ``min_amount_token_receive``; then the order parks (the tokens moved: a person decides,
        nothing is refunded automatically)."""
        out = result.amount_out
        if out is None or out >= self.min_amount_token_receive:
            self.tokens_sent(result, at)
            return
        self.transfer = result
        self._record(
            EventType.TRANSFER_SHORT,
            at,
            transfer_id=result.transfer_id,
            amount_out=f"{out:f}",
            min_amount_token_receive=f"{self.min_amount_token_receive:f}",
        )
        self.step_failed(
            at,
            f"transfer {result.transfer_id} confirmed with amount_out {out:f} below "
            f"min_amount_token_receive {self.min_amount_token_receive:f}",
            retry_at=None,
        )

    def tokens_sent(self, result: TransferResult, at: datetime) -> None:
        if self.refund is not None:
            raise InvalidTransition(
                self.id, self.status.value, OrderStatus.COMPLETED, "order refunded"
            )
        self.transfer = result
        self.last_error = None
        self._move(OrderStatus.COMPLETED, at, f"transfer {result.transfer_id} {result.status}")
        self._record(
            EventType.TOKENS_SENT,
            at,
            transfer_id=result.transfer_id,
            transfer_status=result.status,
            tx_signature=result.tx_signature,
            amount_out=None if result.amount_out is None else f"{result.amount_out:f}",
        )
        self._record(EventType.COMPLETED, at)

    def transfer_submitted(self, result: TransferResult) -> None:
        """The transfer exists but is not final yet: remember it, stay in the step."""
        if self.status is not OrderStatus.SENDING_TOKEN_TO_SMARTWALLET:
            raise InvalidTransition(self.id, self.status.value, self.status.value, "no transfer")
        self.transfer = result

    def park(self, at: datetime, reason: str) -> None:
        """Stop automatic retries of a failed step; a person has to look."""
        if self.status not in FAIL_STATUSES:
            raise InvalidTransition(
                self.id, self.status.value, "parked", "only a failed step parks"
            )
        self.parked = True
        self.parked_reason = reason
        self.next_attempt_at = None
        self.updated_at = at
        self.history.append(StatusChange(self.status, at, f"parked: {reason}"))
        self._record(EventType.PARKED, at, reason=reason)

    def unpark(self, at: datetime, reason: str = "retry requested by an operator") -> None:
        """Make a parked order eligible again, now, with a fresh attempt budget."""
        if self.refund is not None:
            raise InvalidTransition(self.id, self.status.value, "retry", "fulfilment ended")
        if self.status not in FAIL_STATUSES:
            raise InvalidTransition(self.id, self.status.value, self.status.value, "not failed")
        self.parked = False
        self.parked_reason = None
        step = STEP_OF_FAIL_STATUS[self.status]
        self.attempts[step] = 0
        self.next_attempt_at = at
        self.updated_at = at
        self.history.append(StatusChange(self.status, at, reason))
        self._record(EventType.RETRIED, at, step=step.value, reason=reason)

    # --- re-send and refund (docs/refunds.md) ---
    def resend_tokens(self, at: datetime, failed_transfer_id: str, reason: str) -> None:
        """An operator re-sends the tokens under a new key, after a lookup confirmed the
        current key's transfer ``failed`` (the use-case checks; this records it)."""
        if self.refund is not None:
            raise InvalidTransition(self.id, self.status.value, "re-send", "refund requested")
        if self.status is not OrderStatus.SEND_TOKEN_TO_SMARTWALLET_FAIL or not self.parked:
            raise InvalidTransition(self.id, self.status.value, "re-send", "not a parked transfer")
        old = self.idempotency_key(Step.SEND_TOKEN)
        self.send_generation += 1
        new = self.idempotency_key(Step.SEND_TOKEN)
        self.transfer = None
        why = (
            f"transfer {failed_transfer_id} under key {old} confirmed failed by lookup; "
            f"re-sending under key {new}: {reason}"
        )
        self.parked = False
        self.parked_reason = None
        self.attempts[Step.SEND_TOKEN] = 0
        self.next_attempt_at = at
        self.updated_at = at
        self.history.append(StatusChange(self.status, at, why))
        self._record(EventType.RETRIED, at, step=Step.SEND_TOKEN.value, reason=why, key=new)

    def refundable_problem(self) -> str | None:
        """Why this order cannot get a refund now (None: it can). Never twice, and never once
        tokens were delivered or may still be: only ``failed_pay`` or a fail status whose
        last transfer (if any) failed."""
        if self.refund is not None:
            return f"order already has a refund ({self.refund.status.value})"
        if self.status is OrderStatus.COMPLETED or (
            self.transfer is not None and self.transfer.status != "failed"
        ):
            return "tokens were sent for this order"
        if self.status is not OrderStatus.FAILED_PAY and self.status not in FAIL_STATUSES:
            return f"order is {self.status.value}: only failed_pay or a parked failure refunds"
        return None

    def request_refund(
        self, cause: RefundCause, amount: Decimal, currency: str, reason: str, at: datetime
    ) -> None:
        """Save the refund's intent (before any gateway call): the fulfilment ends here."""
        problem = self.refundable_problem()
        if problem is None and cause is RefundCause.OPERATOR and not self.parked:
            problem = "an operator refunds only a parked order"
        if (
            problem is None
            and cause is not RefundCause.OPERATOR
            and self.status is not OrderStatus.FAILED_PAY
        ):
            problem = f"an automatic refund is for failed_pay orders, not {self.status.value}"
        if problem is not None:
            raise InvalidTransition(self.id, self.status.value, "refund", problem)
        at = to_milliseconds(at)
        self.refund = Refund(
            status=RefundStatus.REQUESTED,
            amount=amount,
            currency=currency,
            cause=cause,
            reason=reason,
            requested_at=at,
            next_attempt_at=at,
        )
        self.parked = False
        self.parked_reason = None
        self.next_attempt_at = None
        self.updated_at = at
        self.history.append(StatusChange(self.status, at, _refund_requested_line(self.refund)))
        self._record(
            EventType.REFUND_REQUESTED,
            at,
            amount=f"{amount:f}",
            currency=currency,
            cause=cause.value,
            reason=reason,
            key=self.refund_key,
        )

    def _refund_or_raise(self) -> Refund:
        if self.refund is None:
            raise InvalidTransition(self.id, self.status.value, "refund", "no refund requested")
        return self.refund

    def refund_answered(
        self,
        refund_id: str,
        status: RefundStatus,
        failure_reason: str | None,
        at: datetime,
        *,
        recheck_at: datetime | None,
    ) -> None:
        """The gateway answered for the refund (its create or a lookup). ``recheck_at``: when
        to ask again while it is pending."""
        refund = self._refund_or_raise()
        recheck = None if recheck_at is None else to_milliseconds(recheck_at)
        same = refund.status is status
        if same and status is RefundStatus.PENDING:
            # Still pending: no history line per check, only when to look next.
            self.refund = replace(refund, refund_id=refund_id, next_attempt_at=recheck)
            self.updated_at = at
            return
        if not refund.can_move_to(status):
            raise InvalidTransition(self.id, refund.status.value, status.value, "refund table")
        final = status is not RefundStatus.PENDING
        self.refund = refund.moved(
            status,
            refund_id=refund_id,
            failure_reason=failure_reason,
            attempts=0,
            last_error=None,
            next_attempt_at=None if final else recheck,
        )
        self.updated_at = at
        if status is RefundStatus.PENDING:
            self.history.append(StatusChange(self.status, at, f"refund {refund_id} pending"))
            self._record(EventType.REFUND_PENDING, at, refund_id=refund_id)
        elif status is RefundStatus.SUCCEEDED:
            line = f"refund {refund_id} of {refund.amount:f} {refund.currency} succeeded"
            self.history.append(StatusChange(self.status, at, line))
            self._record(EventType.REFUNDED, at, refund_id=refund_id)
        else:
            words = failure_reason or "no reason"
            self.history.append(
                StatusChange(self.status, at, f"refund {refund_id} failed: {words}")
            )
            self._record(EventType.REFUND_FAILED, at, refund_id=refund_id, reason=words)
            self._park_refund(at, f"refund {refund_id} failed: {words}")

    def refund_attempt_failed(self, at: datetime, error: str, *, retry_at: datetime | None) -> None:
        """A refund call failed without an answer; ``retry_at`` None parks it for a person."""
        refund = self._refund_or_raise()
        if refund.is_final:
            raise InvalidTransition(self.id, refund.status.value, refund.status.value, "final")
        self.refund = replace(
            refund,
            attempts=refund.attempts + 1,
            last_error=error,
            next_attempt_at=None if retry_at is None else to_milliseconds(retry_at),
        )
        self.updated_at = at
        if retry_at is None:
            self._park_refund(at, f"refund: {error}")

    def _park_refund(self, at: datetime, reason: str) -> None:
        self.parked = True
        self.parked_reason = reason
        self.history.append(StatusChange(self.status, at, f"parked: {reason}"))
        self._record(EventType.PARKED, at, reason=reason)

    def retry_refund(
        self, at: datetime, reason: str = "refund retry requested by an operator"
    ) -> None:
        """An operator un-parks a refund that ran out of attempts (a ``failed`` one is final)."""
        refund = self._refund_or_raise()
        if refund.is_final or not self.parked:
            raise InvalidTransition(self.id, refund.status.value, "retry", "refund not parked")
        self.refund = replace(refund, attempts=0, next_attempt_at=to_milliseconds(at))
        self.parked = False
        self.parked_reason = None
        self.updated_at = at
        self.history.append(StatusChange(self.status, at, reason))
        self._record(EventType.RETRIED, at, step=REFUND_KEY_SUFFIX, reason=reason)


def _refund_requested_line(refund: Refund) -> str:
    return (
        f"refund of {refund.amount:f} {refund.currency} requested "
        f"({refund.cause.value}): {refund.reason}"
    )


def replay_history(events: Sequence[OrderEvent]) -> list[StatusChange]:
    """The status history ``events`` tell, line for line as the aggregate writes it. Raises
    ``ValueError`` on a sequence that is not 1..n of one order."""
    lines: list[StatusChange] = []
    transfer: tuple[object, object] | None = None
    amounts: tuple[Decimal, str] = (Decimal(0), "")
    for number, event in enumerate(events, start=1):
        if event.sequence != number or event.order_id != events[0].order_id:
            raise ValueError(f"event {event.id}: expected sequence {number} of one order")
        data = event.data
        status = OrderStatus(str(data["status"]))
        match event.type:
            case EventType.CREATED:
                lines.append(StatusChange(status, event.at, "order created"))
            case EventType.PAID:
                lines.append(
                    StatusChange(status, event.at, "gateway reports the payment completed")
                )
            case EventType.PAYMENT_UNDERPAID:
                asked = data["pay_amount"]
                reason = underpaid_reason(
                    str(data["paid_amount"]),
                    str(data["paid_currency"]),
                    None if asked is None else str(asked),
                )
                lines.append(StatusChange(status, event.at, reason))
            case EventType.PAYMENT_FAILED | EventType.STEP_FAILED | EventType.RETRIED:
                lines.append(StatusChange(status, event.at, str(data["reason"])))
            case EventType.STEP_STARTED:
                step = Step(str(data["step"]))
                reason = f"retry {data['attempt']}" if data["retry"] else ""
                lines.append(StatusChange(STATUS_OF_STEP[step], event.at, reason))
            case EventType.WALLET_CREATED:
                lines.append(StatusChange(status, event.at, f"wallet {data['address']} ready"))
            case EventType.TOKENS_SENT:
                transfer = (data["transfer_id"], data["transfer_status"])
            case EventType.COMPLETED:
                if transfer is None:
                    raise ValueError(f"event {event.id}: completed without tokens sent")
                lines.append(
                    StatusChange(status, event.at, f"transfer {transfer[0]} {transfer[1]}")
                )
            case EventType.PARKED:
                lines.append(StatusChange(status, event.at, f"parked: {data['reason']}"))
            case EventType.REFUND_REQUESTED:
                refund = Refund(
                    status=RefundStatus.REQUESTED,
                    amount=Decimal(str(data["amount"])),
                    currency=str(data["currency"]),
                    cause=RefundCause(str(data["cause"])),
                    reason=str(data["reason"]),
                    requested_at=event.at,
                )
                amounts = (refund.amount, refund.currency)
                lines.append(StatusChange(status, event.at, _refund_requested_line(refund)))
            case EventType.REFUND_PENDING:
                lines.append(StatusChange(status, event.at, f"refund {data['refund_id']} pending"))
            case EventType.REFUNDED:
                line = f"refund {data['refund_id']} of {amounts[0]:f} {amounts[1]} succeeded"
                lines.append(StatusChange(status, event.at, line))
            case EventType.REFUND_FAILED:
                line = f"refund {data['refund_id']} failed: {data['reason']}"
                lines.append(StatusChange(status, event.at, line))
    return lines


_STEP_VALUES = frozenset(step.value for step in Step)
#: The payment's status before the gateway's verdict is recorded (what every gateway answers a
#: new payment with).
_PAYMENT_PENDING = "pending"


def order_after(order: Order, sequence: int) -> Order:
    """The order as it stood right after its event ``sequence`` (1..n): status, wallet, attempts,
    errors, parking, transfer and history rebuilt from events 1..``sequence``; the request and
    payment as stored, the payment's status ``pending`` before the verdict event. The last event
    gives ``order`` itself. Raises ``ValueError`` outside 1..n."""
    events = order.events
    if not 1 <= sequence <= len(events):
        raise ValueError(f"order {order.id} has no event {sequence}")
    if sequence == len(events):
        return order
    kept = events[:sequence]
    payment = order.payment
    if not any(e.type in (EventType.PAID, EventType.PAYMENT_FAILED) for e in kept):
        payment = replace(payment, status=_PAYMENT_PENDING)
    then = Order(
        id=order.id,
        request=order.request,
        payment=payment,
        status=OrderStatus.PENDING,
        created_at=order.created_at,
        updated_at=order.created_at,
        smart_wallet_address=order.request.smart_wallet_address,
        version=order.version,
        history=replay_history(kept),
        events=list(kept),
        stored_events=sequence,
    )
    for event in kept:
        data = event.data
        then.status = OrderStatus(str(data["status"]))
        then.updated_at = event.at
        match event.type:
            case EventType.STEP_STARTED:
                then.attempts[Step(str(data["step"]))] = int(str(data["attempt"]))
                then.next_attempt_at = None
            case EventType.WALLET_CREATED:
                then.smart_wallet_address = str(data["address"])
                then.last_error = None
                then.attempts[Step.SEND_TOKEN] = then.attempts_of(Step.SEND_TOKEN) + 1
                then.next_attempt_at = None
            case EventType.STEP_FAILED:
                then.last_error = str(data["reason"])
                retry_at = data["retry_at"]
                then.next_attempt_at = (
                    None if retry_at is None else datetime.fromisoformat(str(retry_at))
                )
            case EventType.PARKED:
                then.parked = True
                then.parked_reason = str(data["reason"])
                then.next_attempt_at = None
            case EventType.RETRIED:
                then.parked = False
                then.parked_reason = None
                if data["step"] in _STEP_VALUES:  # not a refund's retry
                    then.attempts[Step(str(data["step"]))] = 0
                    then.next_attempt_at = event.at
                    if "key" in data:  # an operator's re-send under a new key
                        then.send_generation += 1
                        then.transfer = None
            case EventType.REFUND_REQUESTED:
                # The refund's own progress is not in the events: its latest state is shown.
                then.refund = order.refund
            case EventType.TOKENS_SENT:
                amount_out, signature = data["amount_out"], data["tx_signature"]
                then.transfer = TransferResult(
                    transfer_id=str(data["transfer_id"]),
                    status=str(data["transfer_status"]),
                    tx_signature=None if signature is None else str(signature),
                    amount_out=None if amount_out is None else Decimal(str(amount_out)),
                )
                then.last_error = None
    return then
