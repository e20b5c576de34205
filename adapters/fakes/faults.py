"""Scriptable faults for the fakes: fail, time out, or apply the effect and then fail."""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Iterable
from enum import StrEnum

from application.errors import DownstreamTimeout, PermanentDownstreamError, TransientDownstreamError


class Fault(StrEnum):
    """A failure a fake can be scripted to produce on a call, before or after its effect."""

    #: 5xx / 429 before anything happened.
    TRANSIENT = "transient"
    #: A timeout before anything happened.
    TIMEOUT = "timeout"
    #: A 4xx: retrying the same call will not help.
    PERMANENT = "permanent"
    #: The effect is applied, then the answer is lost (a read timeout after the write).
    LOST_ANSWER = "lost_answer"
    #: The effect is applied, then our process dies before it saves anything.
    CRASH_AFTER_EFFECT = "crash_after_effect"
    #: The transfer service only: the transfer is made and fails on chain (final under the key).
    FAILED_ON_CHAIN = "failed_on_chain"
    #: The transfer service only: confirmed with ``amount_out`` below the minimum.
    SHORT_ON_CHAIN = "short_on_chain"


#: Faults that apply the side effect before failing.
AFTER_EFFECT = frozenset({Fault.LOST_ANSWER, Fault.CRASH_AFTER_EFFECT})
#: Random faults that a retry recovers from (the simulator and the state machine use these).
RECOVERABLE = (Fault.TRANSIENT, Fault.TIMEOUT, Fault.LOST_ANSWER, Fault.CRASH_AFTER_EFFECT)


class SimulatedCrash(Exception):
    """Stands for the process dying mid-call: nothing after the side effect runs."""


class FaultPlan:
    """Faults per operation: scripted ones first, in order, then random ones at ``rate``."""

    def __init__(
        self,
        *,
        rate: float = 0.0,
        kinds: Iterable[Fault] = RECOVERABLE,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be within [0, 1]")
        self.rate = rate
        self.kinds = tuple(kinds)
        self._rng = random.Random(seed)
        self._scripted: defaultdict[str, deque[Fault]] = defaultdict(deque)
        self.injected: defaultdict[Fault, int] = defaultdict(int)

    def script(self, operation: str, *faults: Fault) -> None:
        """The next calls of ``operation`` fail with ``faults``, one each."""
        self._scripted[operation].extend(faults)

    def clear(self) -> None:
        """No more faults: scripted ones are dropped and the rate goes to zero."""
        self._scripted.clear()
        self.rate = 0.0

    def next(self, operation: str) -> Fault | None:
        queue = self._scripted.get(operation)
        if queue:
            fault: Fault | None = queue.popleft()
        elif self.rate and self.kinds and self._rng.random() < self.rate:
            fault = self._rng.choice(self.kinds)
        else:
            fault = None
        if fault is not None:
            self.injected[fault] += 1
        return fault


def raise_before_effect(service: str, fault: Fault | None) -> None:
    """Raise the fault if it strikes before the side effect."""
    if fault is Fault.TRANSIENT:
        raise TransientDownstreamError(service, "503 service unavailable (injected)")
    if fault is Fault.TIMEOUT:
        raise DownstreamTimeout(service, "read timeout (injected)")
    if fault is Fault.PERMANENT:
        raise PermanentDownstreamError(service, "400 rejected (injected)")


def raise_after_effect(service: str, fault: Fault | None) -> None:
    """Raise the fault if it strikes after the side effect was applied."""
    if fault is Fault.LOST_ANSWER:
        raise DownstreamTimeout(service, "answer lost after the effect (injected)")
    if fault is Fault.CRASH_AFTER_EFFECT:
        raise SimulatedCrash(f"{service}: process died after the effect (injected)")
