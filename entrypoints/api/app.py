"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib.util import find_spec
from pathlib import Path
from types import FrameType
from typing import Any

from litestar import Litestar
from litestar.datastructures import CacheControlHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from application.watch_events import EventStreams
from entrypoints.api.admin import ADMIN_DEPENDENCIES, admin_router
from entrypoints.api.cors import cors_config
from entrypoints.api.dependencies import DEPENDENCIES, ContainerObjects, keep_objects
from entrypoints.api.health import health, ready
from entrypoints.api.metrics import metrics
from entrypoints.api.nowpayments_webhooks import receive_nowpayments_ipn
from entrypoints.api.observability import ObservabilityMiddleware
from entrypoints.api.orders import ORDERS_PATH, OrdersController
from entrypoints.api.problems import handle_exception
from entrypoints.api.rate_limit import SharedCounter, install_rate_limits, rate_limit_config
from entrypoints.api.webhooks import receive_payment_event
from entrypoints.container import Container, running
from entrypoints.settings import Settings, SettingsError

#: Bodies larger than this are refused with 413 before they are read to the end.
MAX_BODY_BYTES = 64 * 1024


#: The interactive docs page's JavaScript and CSS, served by the API itself from the pinned
#: ``swagger-ui-py`` package (Swagger UI 5, which reads OpenAPI 3.1): the page works offline and
#: loads nothing from a CDN.
def _swagger_assets() -> Path:
    # Found, not imported: the package's Python side (framework adapters, jinja2) is not used.
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed: the docs page has no assets")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


SWAGGER_ASSETS = _swagger_assets()
ASSETS_PATH = "/schema/assets"


def docs_page_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at ``/schema`` and ``/schema/swagger``, every asset same-origin."""
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
        path="/swagger",
    )


def end_streams_on_stop(streams: EventStreams) -> Callable[[], None]:
    """uvicorn waits for every open response to finish before it stops the app, and a live
    event stream never finishes by itself: on SIGTERM or SIGINT, end every stream first (its
    client reconnects with ``Last-Event-ID``), then let uvicorn's own handler run. Chained onto
    the handlers uvicorn installed before the app started; answers the undo. Only the main
    thread can set handlers: elsewhere, nothing is chained."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def stopping(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(streams.end_all)
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)

    for signum in previous:
        signal.signal(signum, stopping)

    def undo() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return undo


def create_app(
    settings: Settings | None = None,
    *,
    configure: Callable[[Container], None] | None = None,
    freeze_startup_objects: bool = False,
) -> Litestar:
    """The API. Settings are read from the environment here (not at import) when not given;
    ``configure`` overrides container providers before anything is built (tests).

    ``freeze_startup_objects`` (the ``api`` command sets it): once started, collect and then
    ``gc.freeze()`` everything alive (modules, the app, the container) so that the cyclic
    garbage collector stops walking those objects on every full collection of the process's
    life. Not for tests, which start many apps in one process: a frozen app is never freed."""
    if settings is None:
        settings = Settings.from_env(runs_pipeline=True, serves_buyers=True)
    objects = ContainerObjects({**DEPENDENCIES, **ADMIN_DEPENDENCIES})
    shared_limits: SharedCounter | None = None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Like the adapters' settings (checked as the container is built): the buyers' identity
        # and the order-id key, before anything is served.
        if problems := settings.buyer_problems():
            raise SettingsError(problems)
        async with running(settings, configure=configure) as container:
            app.state.container = container
            await objects.open(container)
            undo_stop_hook = end_streams_on_stop(objects.get("event_streams"))
            if shared_limits is not None:
                await shared_limits.open()
            if freeze_startup_objects:
                gc.collect()
                gc.freeze()
            try:
                yield
            finally:
                if shared_limits is not None:
                    await shared_limits.close()
                undo_stop_hook()
                objects.close()
                del app.state.container

    app = Litestar(
        route_handlers=[
            OrdersController,
            receive_payment_event,
            receive_nowpayments_ipn,
            health,
            ready,
            admin_router,
            metrics,
            create_static_files_router(
                path=ASSETS_PATH,
                directories=[SWAGGER_ASSETS],
                include_in_schema=False,
                cache_control=CacheControlHeader(max_age=86400),
                name="docs_assets",
            ),
        ],
        cors_config=cors_config(settings.cors_allowed_origins),
        # Outermost first: the request id and metrics see every answer, 429s included.
        middleware=[
            ObservabilityMiddleware,
            rate_limit_config(settings.rate_limit_per_minute).middleware,
        ],
        dependencies=objects.providers(),
        lifespan=[lifespan],
        exception_handlers={Exception: handle_exception},
        # Logging is configured once per process by entrypoints/log_config.py (structlog);
        # Litestar's default would replace the root logger's handlers at startup.
        logging_config=None,
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=OpenAPIConfig(
            title="orders-service",
            version="0.1.0",
            description=(
                "Fiat orders paid at a payment gateway, turned into tokens in the buyer's passkey "
                "smart wallet. Every error is `application/problem+json` (RFC 9457)."
            ),
            path="/schema",
            components=Components(
                security_schemes={
                    "AdminToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="`ADMIN_TOKEN` of the server; admin endpoints only.",
                    ),
                    "BuyerToken": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="A buyer's token from the shop's identity provider "
                        "(`JWT_ISSUER`, `JWT_AUDIENCE`; `JWT_JWKS_URL` or `JWT_SECRET`); its "
                        "`sub` is the buyer. `/api/orders` endpoints only.",
                    ),
                }
            ),
            render_plugins=[docs_page_plugin()],
        ),
    )
    keep_objects(app.state, objects)
    # Rate limits counted in Redis, shared by every API process, when there is one.
    shared_limits = install_rate_limits(
        app.state, settings.redis_url, settings.trusted_proxies, buyer_paths=[ORDERS_PATH]
    )
    return app
