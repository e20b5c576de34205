"""The Litestar application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from entrypoints.api.admin import ADMIN_DEPENDENCIES, admin_router
from entrypoints.api.dependencies import DEPENDENCIES, ContainerObjects, keep_objects
from entrypoints.api.health import health, ready
from entrypoints.api.metrics import metrics
from entrypoints.api.observability import ObservabilityMiddleware
from entrypoints.api.orders import OrdersController
from entrypoints.api.problems import handle_exception
from entrypoints.api.rate_limit import rate_limit_config
from entrypoints.api.webhooks import receive_payment_event
from entrypoints.container import Container, running
from entrypoints.settings import Settings

#: Bodies larger than this are refused with 413 before they are read to the end.
MAX_BODY_BYTES = 64 * 1024


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
    settings = settings if settings is not None else Settings.from_env(runs_pipeline=True)
    objects = ContainerObjects({**DEPENDENCIES, **ADMIN_DEPENDENCIES})

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(settings, configure=configure) as container:
            app.state.container = container
            await objects.open(container)
            if freeze_startup_objects:
                gc.collect()
                gc.freeze()
            try:
                yield
            finally:
                objects.close()
                del app.state.container

    app = Litestar(
        route_handlers=[
            OrdersController,
            receive_payment_event,
            health,
            ready,
            admin_router,
            metrics,
        ],
        # Outermost first: the request id and metrics see every answer, 429s included.
        middleware=[
            ObservabilityMiddleware,
            rate_limit_config(settings.rate_limit_per_minute).middleware,
        ],
        dependencies=objects.providers(),
        lifespan=[lifespan],
        exception_handlers={Exception: handle_exception},
        # Logging is configured once per process by entrypoints/logging.py (structlog); Litestar's
        # default would replace the root logger's handlers at startup.
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
                    )
                }
            ),
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin()],
        ),
    )
    keep_objects(app.state, objects)
    return app
