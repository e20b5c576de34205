"""The bridge from the container to Litestar's own dependency injection.

The container lives on ``app.state`` (set by the lifespan); each use-case or port the handlers
need is exposed with :func:`from_container` (Litestar's own ``Provide``) and received as
``NamedDependency[T]``. No
``@inject``: Litestar reads handler signatures, and dependency-injector's ``Provide[...]`` defaults
would be taken for query parameters.
"""

from __future__ import annotations

from typing import Any, cast

from litestar.datastructures import State
from litestar.di import Provide

from application.create_order import CreateOrder
from application.get_order import GetOrder
from application.handle_payment_notification import HandlePaymentNotification
from entrypoints.api.signature import WebhookVerifier
from entrypoints.container import Container, resolve


def container_of(state: State) -> Container:
    container = state.get("container")
    # dependency-injector instantiates a DeclarativeContainer as a DynamicContainer, so an
    # isinstance check against Container would always fail.
    if container is None:
        raise RuntimeError("the app's lifespan has not started: no container on app.state")
    return cast(Container, container)


def from_container(name: str, expected: type = object) -> Provide:
    """A Litestar dependency giving the container's ``name`` provider's object, checked against
    ``expected`` (ports are Protocols, not isinstance-checkable: they stay ``object``)."""

    async def provide(state: State) -> Any:
        return await resolve(getattr(container_of(state), name), expected)

    return Provide(provide)


#: Registered on the app; a handler asks for one by naming a ``NamedDependency[T]`` parameter.
DEPENDENCIES = {
    "create_order": from_container("create_order", CreateOrder),
    "get_order": from_container("get_order", GetOrder),
    "handle_payment_notification": from_container(
        "handle_payment_notification", HandlePaymentNotification
    ),
    "webhook_log": from_container("webhook_log"),
    "webhook_verifier": from_container("webhook_verifier", WebhookVerifier),
    "clock": from_container("clock"),
    "repository": from_container("repository"),
    "scheduler": from_container("scheduler"),
}
