"""The demo shop in a real headless Chromium (Debian's ``chromium``, driven by Playwright): the
sandbox, the API and the worker run as real processes on real Redis and a Mongo-wire server. The
shop creates an order with ``fetch`` from the sandbox's origin, the buyer pays on the sandbox's
checkout page, comes back through ``return_url`` and sees the order ``completed``. From an origin
that is not in ``CORS_ALLOWED_ORIGINS`` the browser itself refuses the call.

``SAVE_SHOP_SCREENSHOT=1`` (or a missing file) writes docs/shop-completed.png from the run.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from devstack import free_port
from tests.e2e.stack import Stack, isolated_redis, running_stack
from tests.services import unavailable

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "shop-completed.png"
#: Bounds against hanging, not measures of speed.
PAGE_SECONDS = 60


@pytest.fixture(scope="module")
def stack(
    redis_url: str, mongo_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("browser-logs")
    with running_stack(
        redis_url=isolated_redis(redis_url),
        mongodb_uri=mongo_uri,
        logs=logs,
        extra_env={"PENDING_RECHECK_SECONDS": "1", "LOG_LEVEL": "info"},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with a browser

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


def test_a_purchase_in_the_shop_completes_in_the_browser(
    stack: Stack, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 900, "height": 700})
    page.set_default_timeout(PAGE_SECONDS * 1000)
    try:
        page.goto(f"{stack.sandbox_url}/shop")
        page.click("#buy")
        # The API created the order; the browser follows payment.checkout_url to the gateway.
        page.wait_for_url(f"{stack.sandbox_url}/checkout/**")
        page.click("button.pay")
        # The checkout sends the browser back through return_url, with the payment's outcome.
        page.wait_for_url(f"{stack.sandbox_url}/shop?**")
        query = parse_qs(urlsplit(page.url).query)
        assert query["status"] == ["completed"]
        assert query["payment_id"][0].startswith("pay_")
        page.wait_for_selector('#status[data-status="completed"]')
        assert page.inner_text("#status") == "completed"
        assert page.is_visible("#done")
        assert page.inner_text("#error") == ""

        order_id = page.inner_text("#order-id")
        order = httpx.get(f"{stack.api_url}/api/orders/{order_id}", timeout=10).json()
        assert order["status"] == "completed"
        assert order["payment"]["id"] == query["payment_id"][0]

        shot = tmp_path / "shop.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG")
        if os.environ.get("SAVE_SHOP_SCREENSHOT") == "1" or not SCREENSHOT.exists():
            shutil.copy(shot, SCREENSHOT)
    except Exception:
        print(stack.logs())  # the processes' side of a failure
        raise
    finally:
        page.close()


class _Page(BaseHTTPRequestHandler):
    """Serves one HTML page, whatever the path."""

    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def foreign_origin(stack: Stack) -> Iterator[str]:
    """The shop's very page, served from another origin (another port) that is not allowed."""
    html = httpx.get(f"{stack.sandbox_url}/shop", timeout=10).content
    handler = type("ShopCopy", (_Page,), {"html": html})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_an_origin_not_allowed_is_refused_by_the_browser(
    stack: Stack, browser: Any, foreign_origin: str
) -> None:
    created_before = httpx.get(f"{stack.sandbox_url}/sandbox/stats", timeout=10).json()
    page = browser.new_page()
    page.set_default_timeout(PAGE_SECONDS * 1000)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(f"{foreign_origin}/shop")
        assert page.inner_text("#api") == stack.api_url
        page.click("#buy")
        page.wait_for_function("document.getElementById('error').textContent !== ''")

        assert "could not reach the API" in page.inner_text("#error")
        assert any("CORS policy" in line for line in console), console
        assert page.url.startswith(foreign_origin)  # never sent to a checkout
    finally:
        page.close()
    # The preflight was refused: the create never reached the API, no payment was made.
    created_after = httpx.get(f"{stack.sandbox_url}/sandbox/stats", timeout=10).json()
    assert created_after["payments"] == created_before["payments"]
    calls = [s["calls"].get("create_payment", 0) for s in (created_before, created_after)]
    assert calls[0] == calls[1]


def test_the_docs_page_renders_with_no_request_leaving_the_api(stack: Stack, browser: Any) -> None:
    page = browser.new_page()
    page.set_default_timeout(PAGE_SECONDS * 1000)
    elsewhere: list[str] = []

    def only_the_api(route: Any) -> None:
        if route.request.url.startswith(stack.api_url):
            route.continue_()
        else:  # as offline: nothing but the API answers
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_api)
    try:
        page.goto(f"{stack.api_url}/schema")
        page.wait_for_selector(".swagger-ui .info .title")
        assert "orders-service" in page.inner_text(".swagger-ui .info .title")
        assert page.locator(".opblock").count() >= 10  # every operation is listed
    finally:
        page.close()
    assert elsewhere == []
