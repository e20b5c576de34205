"""The payment gateway's webhook signature: ``X-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]``
where each ``<hex>`` is HMAC-SHA256 over ``<t>.<raw body>`` with a shared secret.

Pure functions plus one small class holding the secrets, no framework. :func:`sign` is the
service's one signer of this scheme (the tests and benchmarks sign with it too); the sandbox signs
with its own, independent code (``sandbox/webhooks.py``), so the verifier is checked against a
second implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from application.ports import Clock

#: Header values longer than this are refused unparsed: a rotation carries two or three ``v1``.
MAX_HEADER_LENGTH = 1024
MAX_SIGNATURES = 8
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """The signature is missing, malformed, forged or outside the tolerance window."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    """The header's ``t`` and its ``v1`` signatures, in order (lower-case hex)."""

    timestamp: int
    signatures: tuple[str, ...]


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``<timestamp>.<body>`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Sequence[str], timestamp: int, body: bytes) -> str:
    """The ``X-Signature`` value the gateway sends: one ``v1`` per secret (several during a
    rotation)."""
    return ",".join([f"t={timestamp}", *(f"v1={sign(s, timestamp, body)}" for s in secrets)])


def parse_signature_header(value: str) -> ParsedSignature:
    """Split the header into its timestamp and ``v1`` signatures; unknown schemes are skipped
    (the gateway may add a ``v2`` some day)."""
    if len(value) > MAX_HEADER_LENGTH:
        raise SignatureError("X-Signature header is too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            raise SignatureError("X-Signature header is malformed")
        if key == "t":
            if timestamp is not None or not _DIGITS.fullmatch(item):
                raise SignatureError("X-Signature header has a malformed timestamp")
            timestamp = int(item)
        elif key == "v1" and _HEX64.fullmatch(item.lower()):
            signatures.append(item.lower())
    if timestamp is None:
        raise SignatureError("X-Signature header has no timestamp")
    if not signatures:
        raise SignatureError("X-Signature header has no v1 signature")
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureError("X-Signature header has too many signatures")
    return ParsedSignature(timestamp, tuple(signatures))


def verify_signature(
    header: str | None,
    body: bytes,
    secrets: Sequence[str],
    *,
    now: float,
    tolerance_seconds: int,
) -> int:
    """Check the header against the raw body; return its timestamp, or raise ``SignatureError``.

    Any secret verifying any ``v1`` is enough (rotation). Every pair is compared, in constant time
    each, so the time taken does not tell which one matched or how much of it.
    """
    if not header:
        raise SignatureError("X-Signature header is missing")
    if not secrets:
        # Fail closed: without a secret nothing can be authenticated.
        raise SignatureError("no webhook secret is configured (PAYMENT_WEBHOOK_SECRETS)")
    parsed = parse_signature_header(header)
    if abs(now - parsed.timestamp) > tolerance_seconds:
        raise SignatureError(
            f"X-Signature timestamp is more than {tolerance_seconds} s away from now"
        )
    matched = False
    for secret in secrets:
        expected = sign(secret, parsed.timestamp, body).encode("ascii")
        for candidate in parsed.signatures:
            matched |= hmac.compare_digest(expected, candidate.encode("ascii"))
    if not matched:
        raise SignatureError("X-Signature does not match the body")
    return parsed.timestamp


class WebhookVerifier:
    """Verifies the gateway's webhook signatures with the configured secrets and tolerance."""

    def __init__(self, secrets: Sequence[str], tolerance_seconds: int, clock: Clock) -> None:
        self._secrets = tuple(secrets)
        self._tolerance = tolerance_seconds
        self._clock = clock

    def verify(self, header: str | None, body: bytes) -> int:
        """The signed timestamp, or ``SignatureError``."""
        return verify_signature(
            header,
            body,
            self._secrets,
            now=self._clock.now().timestamp(),
            tolerance_seconds=self._tolerance,
        )
