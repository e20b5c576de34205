"""Secrets, payment tokens and passkey public keys never reach a log line in full; the admin
token is compared in constant time."""

from __future__ import annotations

import ast
import inspect
import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from entrypoints.api import admin
from entrypoints.logging import (
    bind_job_context,
    bind_order,
    configure_logging,
    mask,
    redact,
    register_secrets,
)
from entrypoints.settings import Settings

SECRET_VALUE = "sk_live_4f2b9c0d1e7a6b5c"


def test_secret_keys_are_masked_at_any_depth() -> None:
    event = {
        "event": "calling the gateway",
        "authorization": "Bearer abcdefghijklmnop",
        "headers": {"X-API-Key": "key_0123456789", "content-type": "application/json"},
        "passkey": {"credential_id": "cred-1", "public_key": "pQECAyYgASFYIGq7" * 4},
        "payment": [{"token": "ptok_abcdefghijkl", "id": "pay-1"}],
        "token_symbol": "USDC",
    }

    out = redact(None, "info", dict(event))

    text = json.dumps(out)
    assert "abcdefghijklmnop" not in text
    assert "key_0123456789" not in text
    assert "pQECAyYgASFYIGq7" * 4 not in text
    assert "ptok_abcdefghijkl" not in text
    # What is not secret stays readable, and a masked value still tells which one it was.
    assert out["token_symbol"] == "USDC"
    assert out["passkey"]["credential_id"] == "cred-1"
    assert out["payment"][0]["id"] == "pay-1"
    assert out["payment"][0]["token"] == mask("ptok_abcdefghijkl") == "ptok…(17 chars)"
    assert out["headers"]["content-type"] == "application/json"


def test_known_secrets_and_bearer_tokens_are_masked_inside_text() -> None:
    register_secrets([SECRET_VALUE, "short"])

    out = redact(
        None,
        "info",
        {"event": f"gateway refused key {SECRET_VALUE}; sent Authorization: Bearer tok_9f8e7d6c5b"},
    )

    assert SECRET_VALUE not in out["event"]
    assert "tok_9f8e7d6c5b" not in out["event"]
    assert "sk_l…(24 chars)" in out["event"]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    settings = Settings(admin_token="adm_0123456789abcdef", log_format="json")
    configure_logging(settings, stream=stream)
    try:
        yield stream
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "orders-service"]:
            root.removeHandler(handler)
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()


def test_stdlib_and_structlog_lines_come_out_as_redacted_json_with_the_context(
    captured: io.StringIO,
) -> None:
    bind_order("order-7", "ref-7")
    logging.getLogger("some.library").warning(
        "retrying with token %s", "adm_0123456789abcdef", extra={"api_key": "key_abcdefghij"}
    )
    structlog.get_logger("ours").info("wallet created", public_key="pk_0123456789abcdef")

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]

    assert [line["level"] for line in lines] == ["warning", "info"]
    assert all(line["order_id"] == "order-7" and line["reference_id"] == "ref-7" for line in lines)
    assert "adm_0123456789abcdef" not in captured.getvalue()
    assert "key_abcdefghij" not in captured.getvalue()
    assert "pk_0123456789abcdef" not in captured.getvalue()
    assert lines[0]["logger"] == "some.library"


def test_the_console_format_is_readable_text(captured: io.StringIO) -> None:
    configure_logging(Settings(log_format="console"), stream=captured)
    logging.getLogger("x").info("hello %s", "there")
    assert "hello there" in captured.getvalue()
    assert not captured.getvalue().lstrip().startswith("{")


def test_the_admin_token_comparison_is_constant_time() -> None:
    assert admin.token_matches("adm_0123", "adm_0123")
    for wrong in ("adm_0124", "adm_012", "adm_01234", "", "ADM_0123", "adm_0123 "):
        assert not admin.token_matches(wrong, "adm_0123")
    # Structural: the comparison is hmac.compare_digest, never ``==`` on the token.
    tree = ast.parse(inspect.getsource(admin.token_matches))
    calls = {
        f"{node.func.value.id}.{node.func.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
    }
    assert "hmac.compare_digest" in calls
    assert not any(isinstance(node, ast.Compare) for node in ast.walk(tree))
    assert "token_matches(" in inspect.getsource(admin.require_admin)


class _Job:
    def __init__(self, key: str, function: str, kwargs: dict[str, str]) -> None:
        self.key = key
        self.function = function
        self.kwargs = kwargs


async def test_a_worker_job_puts_its_key_and_order_id_on_its_lines(captured: io.StringIO) -> None:
    await bind_job_context(
        {"job": _Job("advance:order-9", "advance_order", {"order_id": "order-9"})}
    )
    logging.getLogger("worker").info("advancing")
    # The next job (a cron without an order) starts from a clean context.
    await bind_job_context({"job": _Job("cron:retry_due_orders", "retry_due_orders", {})})
    logging.getLogger("worker").info("sweeping")

    first, second = (json.loads(line) for line in captured.getvalue().splitlines())

    assert (first["job_key"], first["order_id"], first["job"]) == (
        "advance:order-9",
        "order-9",
        "advance_order",
    )
    assert second["job_key"] == "cron:retry_due_orders"
    assert "order_id" not in second
