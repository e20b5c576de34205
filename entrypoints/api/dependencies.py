"""The bridge from the container to Litestar's own dependency injection.

The container lives on ``app.state`` (set by the lifespan); each use-case or port the handlers
need is exposed with :func:`from_container` (Litestar's own ``Provide``) and received as
``NamedDependency[T]``. No ``@inject``: Litestar reads handler signatures, and
dependency-injector's ``Provide[...]`` defaults would be taken for query parameters.

Every object named by :func:`from_container` is resolved once, when the app starts
(:func:`resolve_dependencies`, called by the lifespan right after the container's resources
open), and checked against its expected type there: a wiring mistake stops startup instead of
failing a request. A request then gets the object with one dict lookup, in a plain function
(no coroutine, no thread), because a per-request ``await`` of the container was a measurable
share of the hot routes (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any, cast

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from application.create_order import CreateOrder
from application.get_order import GetOrder
from application.handle_payment_notification import HandlePaymentNotification
from entrypoints.api.signature import WebhookVerifier
from entrypoints.container import Container, resolve

#: Container provider name -> the type its object must have, for every ``from_container``.
_WANTED: dict[str, type] = {}
_RESOLVED_KEY = "resolved_dependencies"


def container_of(state: State) -> Container:
    container = state.get("container")
    # dependency-injector instantiates a DeclarativeContainer as a DynamicContainer, so an
    # isinstance check against Container would always fail.
    if container is None:
        raise RuntimeError("the app's lifespan has not started: no container on app.state")
    return cast(Container, container)


async def resolve_dependencies(state: State, container: Container) -> None:
    """Resolve every provider named by :func:`from_container` and keep the objects on
    ``state`` for the requests (the lifespan calls this once the resources are open)."""
    state[_RESOLVED_KEY] = {
        name: await resolve(getattr(container, name), expected)
        for name, expected in _WANTED.items()
    }


def forget_dependencies(state: State) -> None:
    """Drop what :func:`resolve_dependencies` kept (the lifespan's shutdown)."""
    state.pop(_RESOLVED_KEY, None)


def resolved(state: State, name: str) -> Any:
    """The object of the container's ``name`` provider, resolved when the app started."""
    objects = state.get(_RESOLVED_KEY)
    if objects is None:
        raise RuntimeError("the app's lifespan has not started: no dependencies resolved")
    return objects[name]


def from_container(name: str, expected: type = object) -> Provide:
    """A Litestar dependency giving the container's ``name`` provider's object, checked against
    ``expected`` at startup (ports are Protocols, not isinstance-checkable: they stay
    ``object``)."""
    if _WANTED.setdefault(name, expected) is not expected:
        raise ValueError(f"{name!r} is already exposed with another expected type")

    def provide(request: Request[Any, Any, Any]) -> Any:
        return resolved(request.app.state, name)

    return Provide(provide, sync_to_thread=False)


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
