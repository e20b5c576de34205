"""NOWPayments' IPN signature: ``x-nowpayments-sig: <hex>``, the HMAC-SHA512 (keyed with the IPN
secret) of the body re-serialized the way NOWPayments' own Node code does it::

    JSON.stringify(sortObject(JSON.parse(body)))

where ``sortObject`` rebuilds every object (recursively) with its keys in ``Array.prototype.sort``
order. Reproducing that byte for byte in Python means reproducing JavaScript, not JSON:

- **numbers** are IEEE doubles in JavaScript: ``JSON.stringify`` writes the shortest digits that
  read back as the same double (``0.00029``, ``25.5``, ``100``), in exponent form below 1e-6 and
  from 1e21 up (``1e-7``, ``1e+21``), ``-0`` as ``0``, and an overflow (``1e400`` is Infinity) as
  ``null``. The digits of the double are taken from Python's ``repr(float)``, which is the same
  shortest-round-trip algorithm; a float is used *only* to spell a number for the signature —
  the amounts the service uses are the exact ``Decimal`` of the text (:func:`parse_ipn_body`);
- **strings**: only ``"``, ``\\``, control characters (``\\b \\f \\n \\r \\t`` short, the others
  ``\\u00xx``) and lone surrogates (``\\udxxx``) are escaped; everything else, non-ASCII and
  U+2028/U+2029 included, is written as is (UTF-8 on the wire);
- **key order**: ``sort()`` compares UTF-16 code units; and a JavaScript object always lists its
  array-index keys (``"0"``, ``"17"``) first, in numeric order, whatever the insertion order;
- **arrays**: ``typeof [] === "object"``, so ``sortObject`` turns an array into an object keyed
  ``"0"``, ``"1"``, … (NOWPayments' bodies are flat; this only matters for exactness);
- duplicate keys: the last one wins, as in ``JSON.parse``.

tests/vectors/nowpayments_ipn.js makes the test vectors with Node itself. :func:`ipn_signature`
is the service's one signer of this scheme; the sandbox signs with its own, independent
implementation (``sandbox/nowpayments.py``, docs/nowpayments.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from decimal import Decimal
from typing import Any

#: The header is 128 hex digits; anything much longer is refused unread.
MAX_HEADER_LENGTH = 256
#: Deeper JSON than this is refused (it is no payment notification, and recursion is bounded).
MAX_DEPTH = 32
_HEX128 = re.compile(r"[0-9a-fA-F]{128}")
_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_MAX_ARRAY_INDEX = 2**32 - 2


class IpnSignatureError(Exception):
    """The ``x-nowpayments-sig`` header is missing, malformed or does not match the body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IpnBodyError(ValueError):
    """The body is not a JSON object as ``JSON.parse`` would read it."""


def _reject_constant(name: str) -> Any:
    # Python's json reads NaN/Infinity; JSON.parse does not.
    raise IpnBodyError(f"{name} is not JSON")


def _unique_last(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)  # a repeated key keeps its last value, as JSON.parse does


def parse_ipn_body(body: bytes) -> dict[str, Any]:
    """The body as a dict; every JSON number becomes the exact ``Decimal`` of its text (never a
    float). ``IpnBodyError`` when it is not UTF-8 JSON whose top level is an object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise IpnBodyError("the body is not UTF-8") from None
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_last,
        )
    except IpnBodyError:
        raise
    except (ValueError, RecursionError) as exc:
        raise IpnBodyError(f"the body is not JSON ({type(exc).__name__})") from None
    if not isinstance(value, dict):
        raise IpnBodyError("the body is not a JSON object")
    if _depth(value) > MAX_DEPTH:
        raise IpnBodyError(f"the body nests deeper than {MAX_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


# --- JSON.stringify ---


def js_number(value: Decimal) -> str:
    """``JSON.stringify`` of the double nearest to ``value`` (ECMA-262 Number::toString)."""
    number = float(value)  # the double JavaScript holds; used for its spelling only
    if not math.isfinite(number):  # JSON text has no NaN: only an overflow to Infinity
        return "null"
    if number == 0:
        return "0"  # 0 and -0
    sign = "-" if number < 0 else ""
    shortest = Decimal(repr(abs(number))).normalize()
    _, digit_tuple, exponent = shortest.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    k = len(digits)
    n = k + exponent  # value = 0.<digits> * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + text


_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
_SHORT_ESCAPES["\t"] = "\\t"
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\ud800-\udfff]')


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"


def js_string(value: str) -> str:
    """``JSON.stringify`` of a string (ES2019 well-formed: lone surrogates escaped)."""
    # A str from json.loads holds a surrogate *pair* as one code point, so any surrogate left in
    # it is a lone one.
    return '"' + _NEEDS_ESCAPE.sub(_escape, value) + '"'


def _utf16_units(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.fullmatch(key) is not None and int(key) <= _MAX_ARRAY_INDEX


def _js_key_order(keys: list[str]) -> list[str]:
    """The order of a JavaScript object built by inserting ``keys`` sorted as ``sort()`` does."""
    ordered = sorted(keys, key=_utf16_units)
    indices = sorted((key for key in ordered if _is_array_index(key)), key=int)
    return indices + [key for key in ordered if not _is_array_index(key)]


def js_sorted_stringify(value: Any) -> str:
    """``JSON.stringify(sortObject(value))`` for what :func:`parse_ipn_body` returns."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        return js_number(value)
    if isinstance(value, str):
        return js_string(value)
    if isinstance(value, list):
        # sortObject treats an array as the object {"0": …, "1": …}.
        value = {str(index): item for index, item in enumerate(value)}
    if isinstance(value, dict):
        members = (
            js_string(key) + ":" + js_sorted_stringify(value[key])
            for key in _js_key_order(list(value))
        )
        return "{" + ",".join(members) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def ipn_signature(secret: str, payload: dict[str, Any]) -> str:
    """The hex HMAC-SHA512 of the sorted serialization of ``payload``."""
    message = js_sorted_stringify(payload).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha512).hexdigest()


def verify_ipn(header: str | None, body: bytes, secret: str) -> dict[str, Any]:
    """Check ``x-nowpayments-sig`` against the raw body; return the parsed body (numbers as exact
    ``Decimal``). ``IpnSignatureError`` (401) for a missing, malformed or wrong signature, checked
    first; ``IpnBodyError`` (400) for a body that is not a JSON object."""
    if not secret:
        # Fail closed: without a secret nothing can be authenticated.
        raise IpnSignatureError("no IPN secret is configured (NOWPAYMENTS_IPN_SECRET)")
    if not header:
        raise IpnSignatureError("x-nowpayments-sig header is missing")
    if len(header) > MAX_HEADER_LENGTH or not _HEX128.fullmatch(header.strip()):
        raise IpnSignatureError("x-nowpayments-sig is not 128 hex digits")
    payload = parse_ipn_body(body)
    expected = ipn_signature(secret, payload).encode("ascii")
    if not hmac.compare_digest(expected, header.strip().lower().encode("ascii")):
        raise IpnSignatureError("x-nowpayments-sig does not match the body")
    return payload


class IpnVerifier:
    """Verifies NOWPayments IPNs with the configured secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def verify(self, header: str | None, body: bytes) -> dict[str, Any]:
        return verify_ipn(header, body, self._secret)
