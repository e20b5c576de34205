"""The Litestar application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from entrypoints.api.admin import admin_router
from entrypoints.api.dependencies import DEPENDENCIES, forget_dependencies, resolve_dependencies
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
) -> Litestar:
    """The API. Settings are read from the environment here (not at import) when not given;
    ``configure`` overrides container providers before anything is built (tests)."""
    settings = settings if settings is not None else Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(settings, configure=configure) as container:
            app.state.container = container
            await resolve_dependencies(app.state, container)
            try:
                yield
            finally:
                forget_dependencies(app.state)
                del app.state.container

    return Litestar(
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
        dependencies=DEPENDENCIES,
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
