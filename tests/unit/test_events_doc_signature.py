"""The signature check docs/events.md gives merchants verifies what the service signs, and
refuses a forged body, a wrong secret and a stale timestamp."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.http.webhook_signature import signature_header
from sandbox.merchant import BadSignature, verify

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
Verify = Callable[[str, str, bytes], bool]


def documented_verify() -> Verify:
    [code] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - our own documentation's example
    check: Verify = namespace["verify"]
    return check


def test_the_documented_check_accepts_the_service_s_signature_only() -> None:
    check = documented_verify()
    body = b'{"id":"o-1:1","type":"order.created"}'
    now = int(time.time())
    header = signature_header(("merchant-secret-0123",), now, body)
    assert check("merchant-secret-0123", header, body)
    assert not check("merchant-secret-0123", header, body + b" ")
    assert not check("another-secret-000000", header, body)
    stale = signature_header(("merchant-secret-0123",), now - 3600, body)
    assert not check("merchant-secret-0123", stale, body)


def test_the_sandbox_receiver_agrees() -> None:
    body = b'{"id":"o-1:2"}'
    header = signature_header(("merchant-secret-0123",), int(time.time()), body)
    verify("merchant-secret-0123", header, body)
    try:
        verify("merchant-secret-0123", header, body + b"x")
    except BadSignature:
        pass
    else:
        raise AssertionError("a forged body passed")
