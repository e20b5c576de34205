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

from entrypoints import log_config as logs
from entrypoints.api import admin
from entrypoints.log_config import (
    bind_job_context,
    bind_order,
    bind_request,
    configure_logging,
    mask,
    redact,
    register_secrets,
    reset_logging,
    settings_secrets,
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


def test_every_secret_setting_is_masked_not_only_a_listed_few() -> None:
    settings = Settings(
        admin_token="adm_0123456789abcdef",
        nowpayments_api_key="np_key_0123456789",
        nowpayments_ipn_secret="np_ipn_secret_0123456789",
        payment_webhook_secrets=("whsec_one_0123456789", "whsec_two_0123456789"),
    )

    found = set(settings_secrets(settings))

    assert {
        "adm_0123456789abcdef",
        "np_key_0123456789",
        "np_ipn_secret_0123456789",
        "whsec_one_0123456789",
        "whsec_two_0123456789",
    } <= found


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
        # Also the API's request logger, which configure_logging points at this stream.
        reset_logging()
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


def test_the_request_line_is_one_json_object_with_the_request_context(
    captured: io.StringIO,
) -> None:
    bind_request("req-1", order_id="order-1", reference_id="ref-1")
    # What the API's middleware writes once per answer (entrypoints/api/observability.py).
    logs.http_log.info(
        "request",
        method="GET",
        path="/api/orders/order-1",
        route="/api/orders/{order_id:str}",
        status=200,
        duration_ms=0.42,
    )

    (line,) = [json.loads(text) for text in captured.getvalue().splitlines()]

    assert line["event"] == "request"
    assert (line["level"], line["logger"]) == ("info", "orders_service.http")
    assert (line["request_id"], line["order_id"], line["reference_id"]) == (
        "req-1",
        "order-1",
        "ref-1",
    )
    assert (line["route"], line["status"], line["duration_ms"]) == (
        "/api/orders/{order_id:str}",
        200,
        0.42,
    )
    assert line["timestamp"].endswith("Z")


def test_secrets_on_the_request_line_are_masked_by_key_and_inside_text(
    captured: io.StringIO,
) -> None:
    logs.http_log.info(
        "request",
        path="/api/admin/orders?token=adm_0123456789abcdef",
        headers={"Authorization": "Bearer abcdefghijklmnop", "x-api-key": "key_0123456789"},
        note=["sent Authorization: Bearer tok_9f8e7d6c5b"],
        signature="t=1,v1=0123456789abcdef",
    )

    text = captured.getvalue()
    line = json.loads(text)

    for secret in (
        "adm_0123456789abcdef",
        "abcdefghijklmnop",
        "key_0123456789",
        "tok_9f8e7d6c5b",
        "0123456789abcdef",
    ):
        assert secret not in text
    assert line["path"] == "/api/admin/orders?token=adm_…(20 chars)"
    assert line["signature"] == mask("t=1,v1=0123456789abcdef")


def test_lines_are_written_as_bytes_to_a_binary_stream() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8")
    configure_logging(Settings(log_format="json"), stream=stream)
    try:
        logs.http_log.info("request", route="/health", status=200)
        logging.getLogger("some.library").warning("slow: %d ms", 12)
    finally:
        reset_logging()

    first, second = (json.loads(line) for line in raw.getvalue().splitlines())
    assert (first["event"], first["status"]) == ("request", 200)
    assert (second["event"], second["level"], second["logger"]) == (
        "slow: 12 ms",
        "warning",
        "some.library",
    )


def test_below_the_level_nothing_is_written(captured: io.StringIO) -> None:
    configure_logging(Settings(log_format="json", log_level="warning"), stream=captured)
    logs.http_log.info("request", status=200)
    logging.getLogger("x").info("hello")
    structlog.get_logger("y").debug("hidden")

    assert captured.getvalue() == ""


def _saq_record(message: str, job: str) -> logging.LogRecord:
    return logging.LogRecord("saq", logging.INFO, "saq/worker.py", 1, message, (job,), None)


def test_cron_passes_and_the_per_call_httpx_line_are_debug(captured: io.StringIO) -> None:
    cron = "Job<function: retry_due_orders, key: cron:retry_due_orders, queue: default>"
    order = "Job<function: advance_order, key: advance:order-1, queue: default>"
    saq = logging.getLogger("saq")
    for message in ("Enqueuing %s", "Processing %s", "Finished %s"):
        saq.handle(_saq_record(message, cron))
    saq.handle(_saq_record("Scheduled %s", "['saq:job:default:cron:retry_due_orders']"))
    saq.handle(_saq_record("Finished %s", order))
    logging.getLogger("httpx").info('HTTP Request: POST http://wallet/v1/wallets "201"')

    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    assert [line["event"] for line in lines] == [f"Finished {order}"]

    configure_logging(Settings(log_format="json", log_level="debug"), stream=captured)
    saq.handle(_saq_record("Finished %s", cron))
    logging.getLogger("httpx").info("HTTP Request: GET http://gateway/v1/payments/p1")

    *_, cron_line, httpx_line = (json.loads(line) for line in captured.getvalue().splitlines())
    assert (cron_line["event"], cron_line["level"]) == (f"Finished {cron}", "debug")
    assert httpx_line["logger"] == "httpx"


def test_an_exception_s_message_is_masked_and_console_tracebacks_show_no_locals(
    captured: io.StringIO,
) -> None:
    def fail(api_key: str) -> None:
        raise RuntimeError(f"gateway said no to adm_0123456789abcdef, Bearer {api_key}")

    try:
        fail("key_abcdefghijkl")
    except RuntimeError:
        logging.getLogger("some.library").exception("call failed")
    (line,) = [json.loads(text) for text in captured.getvalue().splitlines()]
    assert "RuntimeError: gateway said no to adm_…(20 chars), Bearer key_…" in line["exception"]

    console = io.StringIO()
    configure_logging(Settings(log_format="console"), stream=console)

    def refuse(wallet_key: str) -> None:
        raise RuntimeError("refused")

    try:
        refuse("-".join(["wk", "local", "value", "0123"]))  # only a local variable holds it
    except RuntimeError:
        structlog.get_logger("ours").exception("call failed")
    assert "RuntimeError" in console.getvalue()
    assert "wk-local-value-0123" not in console.getvalue()
