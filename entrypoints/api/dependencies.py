"""The bridge from the container to Litestar's own dependency injection.

The container lives on ``app.state`` (set by the lifespan); each use-case or port the handlers
need is exposed as ``Provide(<async function>)`` and received as ``NamedDependency[T]``. No
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
from application.ports import Clock, JobScheduler, OrderRepository, WebhookEventLog
from entrypoints.api.signature import WebhookVerifier
from entrypoints.container import Container, resolve


def container_of(state: State) -> Container:
    container = state.get("container")
    # dependency-injector instantiates a DeclarativeContainer as a DynamicContainer, so an
    # isinstance check against Container would always fail.
    if container is None:
        raise RuntimeError("the app's lifespan has not started: no container on app.state")
    return cast(Container, container)


async def _port(provider: Any) -> Any:
    # Ports are Protocols (not isinstance-checkable): accept whatever the container built.
    return await resolve(provider, object)


async def provide_create_order(state: State) -> CreateOrder:
    return await resolve(container_of(state).create_order, CreateOrder)


async def provide_get_order(state: State) -> GetOrder:
    return await resolve(container_of(state).get_order, GetOrder)


async def provide_handle_payment_notification(state: State) -> HandlePaymentNotification:
    return await resolve(container_of(state).handle_payment_notification, HandlePaymentNotification)


async def provide_webhook_log(state: State) -> WebhookEventLog:
    return cast(WebhookEventLog, await _port(container_of(state).webhook_log))


async def provide_webhook_verifier(state: State) -> WebhookVerifier:
    return await resolve(container_of(state).webhook_verifier, WebhookVerifier)


async def provide_clock(state: State) -> Clock:
    return cast(Clock, await _port(container_of(state).clock))


async def provide_repository(state: State) -> OrderRepository:
    return cast(OrderRepository, await _port(container_of(state).repository))


async def provide_scheduler(state: State) -> JobScheduler:
    return cast(JobScheduler, await _port(container_of(state).scheduler))


#: Registered on the app; a handler asks for one by naming a ``NamedDependency[T]`` parameter.
DEPENDENCIES = {
    "create_order": Provide(provide_create_order),
    "get_order": Provide(provide_get_order),
    "handle_payment_notification": Provide(provide_handle_payment_notification),
    "webhook_log": Provide(provide_webhook_log),
    "webhook_verifier": Provide(provide_webhook_verifier),
    "clock": Provide(provide_clock),
    "repository": Provide(provide_repository),
    "scheduler": Provide(provide_scheduler),
}
