"""The input grammar of the service, defined once: every constrained string of an order request,
what it may contain, and the words that say so.

The domain checks values with these rules (always matched as a whole: ``fullmatch``); the wire
schemas (``entrypoints/api/schemas.py``) reuse the same pattern text through
:attr:`TextRule.wire_pattern`, so a rule is never written twice. Decimal text is parsed here too,
into one canonical Decimal per value: ``"300000"`` and ``"300000.00"`` are the same amount and
the same request.

Pure Python plus a data package (``pycountry``: the ISO 4217 list it maintains).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import pycountry


def wire_pattern(body: str) -> str:
    """``body`` anchored for a validator that *searches* (msgspec, JSON Schema).

    ``^…$`` alone is not whole-string in Python: ``$`` also matches before a final ``\\n``.
    ``(?!\\n)`` after ``$`` closes that gap, and the result means the same in ECMAScript (the
    OpenAPI document's dialect), where ``\\A``/``\\Z`` do not exist."""
    return rf"^(?:{body})$(?!\n)"


@dataclass(frozen=True, slots=True)
class TextRule:
    """A constrained string: its allowed text (a regex body, no anchors), its length bounds and
    the plain words a caller reads when a value breaks it."""

    body: str
    max_length: int
    words: str
    min_length: int = 1
    not_text: str = "must be a string"
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.body))

    @property
    def wire_pattern(self) -> str:
        return wire_pattern(self.body)

    def matches(self, value: object) -> bool:
        return (
            isinstance(value, str)
            and self.min_length <= len(value) <= self.max_length
            and self._compiled.fullmatch(value) is not None
        )

    def problem(self, value: object) -> str | None:
        """What is wrong with ``value`` in plain words, or None."""
        if not isinstance(value, str):
            return self.not_text
        if not value:
            return "must not be empty"
        if len(value) > self.max_length:
            return f"must be at most {self.max_length} characters"
        if self._compiled.fullmatch(value) is None:
            return self.words
        return None


#: Ids the caller chooses (reference_id, pool_id): they travel as idempotency keys and URL parts.
IDENTIFIER = TextRule(
    body=r"[A-Za-z0-9][A-Za-z0-9._:\-]*",
    max_length=128,
    words="may contain only letters, digits and . _ : - and must start with a letter or digit",
)
TOKEN_SYMBOL = TextRule(
    body=r"[A-Za-z0-9][A-Za-z0-9._\-]*",
    max_length=32,
    words="may contain only letters, digits and . _ - and must start with a letter or digit",
)
CURRENCY = TextRule(
    body=r"[A-Z]{3}",
    max_length=3,
    words="must be an ISO 4217 currency code: three upper-case letters, such as EUR",
)
#: Visible ASCII, no spaces or control characters (passkey fields, wallet addresses).
PRINTABLE_WORDS = "may contain only visible ASCII characters (no spaces or control characters)"
CREDENTIAL_ID = TextRule(body=r"[\x21-\x7e]+", max_length=1024, words=PRINTABLE_WORDS)
PUBLIC_KEY = TextRule(body=r"[\x21-\x7e]+", max_length=4096, words=PRINTABLE_WORDS)
WALLET_ADDRESS = TextRule(body=r"[\x21-\x7e]+", max_length=128, words=PRINTABLE_WORDS)
#: Where the checkout sends the buyer back: an absolute http(s) URL of visible ASCII (its origin
#: is checked against the allowed origins at the edge).
RETURN_URL = TextRule(
    body=r"https?://[\x21-\x7e]+",
    max_length=2048,
    words="must be an absolute http or https URL of visible ASCII characters",
)
#: An operator's words for the history (why refund, why re-send): printable ASCII, spaces only
#: between words.
OPERATOR_REASON = TextRule(
    body=r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?",
    max_length=500,
    words="must be printable ASCII text, with spaces only between words",
)
#: A decimal number as text: digits, an optional fraction, an optional minus sign (so that "-1"
#: gets "must be greater than 0" rather than a grammar message). No exponent, NaN or Infinity.
DECIMAL_TEXT = TextRule(
    body=r"-?[0-9]+(?:\.[0-9]+)?",
    max_length=64,
    words="must be a decimal number written with digits and an optional fraction, such as "
    "12.50 (no exponent, NaN or Infinity)",
    not_text='must be a decimal number in a string, such as "12.50" (not a JSON number)',
)

#: Every text rule by the request field it governs (dotted paths for nested fields).
REQUEST_TEXT_RULES: Mapping[str, TextRule] = {
    "reference_id": IDENTIFIER,
    "pool_id": IDENTIFIER,
    "token_symbol": TOKEN_SYMBOL,
    "amount_token": DECIMAL_TEXT,
    "min_amount_token_receive": DECIMAL_TEXT,
    "price_tolerance_percent": DECIMAL_TEXT,
    "fiat_currency": CURRENCY,
    "price_fiat": DECIMAL_TEXT,
    "passkey.credential_id": CREDENTIAL_ID,
    "passkey.public_key": PUBLIC_KEY,
    "smart_wallet_address": WALLET_ADDRESS,
    "return_url": RETURN_URL,
}

#: The ISO 4217 codes, as pycountry maintains them (not a hand-written list).
ISO_4217_CODES: frozenset[str] = frozenset(c.alpha_3 for c in pycountry.currencies)


def currency_problem(value: object) -> str | None:
    """The currency rule in full: the shape, then the ISO 4217 list."""
    if (shape := CURRENCY.problem(value)) is not None:
        return shape
    if value not in ISO_4217_CODES:
        return "is not an ISO 4217 currency code"
    return None


def canonical_decimal(value: Decimal) -> Decimal:
    """The one spelling of a finite value: no trailing zeros in the fraction (``300000.00`` is
    ``300000``, ``1.50`` is ``1.5``), exactly, whatever the context's precision (no rounding:
    ``normalize()`` would round to 28 digits and write ``3E+5``)."""
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0 or digits[-1] != 0:
        return value
    kept = len(digits)
    while exponent < 0 and kept > 1 and digits[kept - 1] == 0:
        kept -= 1
        exponent += 1
    if kept == 1 and digits[0] == 0:
        exponent = 0  # "0.000" is "0"
    return Decimal((sign, digits[:kept], exponent))


def parse_decimal(text: str) -> Decimal:
    """Decimal text (already matched by :data:`DECIMAL_TEXT`) as its canonical Decimal: the
    fraction's trailing zeros dropped from the text (cheaper than :func:`canonical_decimal`)."""
    if "." in text and text[-1] == "0":
        text = text.rstrip("0").rstrip(".")
    return Decimal(text)
