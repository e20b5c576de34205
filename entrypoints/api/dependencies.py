"""The bridge from the container to Litestar's own dependency injection.

The container lives on ``app.state`` (set by the lifespan). Each use-case the handlers need
(never a port: handlers only translate) is named here with :class:`FromContainer` and registered
on the app as Litestar's own ``Provide``; a handler receives it as ``NamedDependency[T]``. No
``@inject``: Litestar reads handler signatures, and dependency-injector's ``Provide[...]``
defaults would be taken for query parameters.

The objects are resolved once, when the app starts (:meth:`ContainerObjects.open`, called by the
lifespan right after the container's resources open), and checked against their expected type
there: a wiring mistake stops startup instead of failing a request. A request then gets its
object from a function with no parameters (nothing for Litestar to parse or validate, no
coroutine, no thread): the hot routes pay nothing per request for their dependencies
(docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from litestar.datastructures import State
from litestar.di import Provide

from adapters.http.nowpayments_signature import IpnVerifier
from adapters.http.webhook_signature import WebhookVerifier
from application.check_readiness import CheckReadiness
from application.create_order import CreateOrder
from application.get_order import GetOrder
from application.receive_webhook import ReceiveWebhook
from application.watch_events import EventStreams
from entrypoints.container import Container, resolve
from entrypoints.settings import Settings

_OBJECTS_KEY = "container_objects"


@dataclass(frozen=True, slots=True)
class FromContainer:
    """The container's ``provider`` object, which must be an instance of ``expected`` (ports are
    Protocols, not isinstance-checkable: they stay ``object``)."""

    provider: str
    expected: type = object


#: The API's dependencies (the admin router adds its own): dependency name -> container object.
DEPENDENCIES: dict[str, FromContainer] = {
    "create_order": FromContainer("create_order", CreateOrder),
    "get_order": FromContainer("get_order", GetOrder),
    "event_streams": FromContainer("event_streams", EventStreams),
    "receive_webhook": FromContainer("receive_webhook", ReceiveWebhook),
    "check_readiness": FromContainer("check_readiness", CheckReadiness),
    "webhook_verifier": FromContainer("webhook_verifier", WebhookVerifier),
    "ipn_verifier": FromContainer("ipn_verifier", IpnVerifier),
    "adapter_kinds": FromContainer("adapter_kinds", dict),
    "settings": FromContainer("settings", Settings),
}


class ContainerObjects:
    """One app's dependencies: resolved from the container when the app starts, handed to
    Litestar as ``Provide`` functions that look them up."""

    def __init__(self, wanted: Mapping[str, FromContainer]) -> None:
        self._wanted = dict(wanted)
        self._objects: dict[str, Any] | None = None

    async def open(self, container: Container) -> None:
        self._objects = {
            name: await resolve(getattr(container, spec.provider), spec.expected)
            for name, spec in self._wanted.items()
        }

    def close(self) -> None:
        self._objects = None

    def get(self, name: str) -> Any:
        if self._objects is None:
            raise RuntimeError("the app's lifespan has not started: no dependencies resolved")
        return self._objects[name]

    def providers(self) -> dict[str, Provide]:
        """Litestar's ``dependencies=`` of the app."""
        return {name: Provide(self._getter(name), sync_to_thread=False) for name in self._wanted}

    def _getter(self, name: str) -> Callable[[], Any]:
        def provide() -> Any:
            return self.get(name)

        return provide


def container_of(state: State) -> Container:
    """The container the lifespan put on ``app.state``; ``RuntimeError`` before it started."""
    container = state.get("container")
    # dependency-injector instantiates a DeclarativeContainer as a DynamicContainer, so an
    # isinstance check against Container would always fail.
    if container is None:
        raise RuntimeError("the app's lifespan has not started: no container on app.state")
    return cast(Container, container)


def objects_of(state: State) -> ContainerObjects:
    """The app's resolved dependencies (for hooks that are not handlers, e.g. guards)."""
    return cast(ContainerObjects, state[_OBJECTS_KEY])


def keep_objects(state: State, objects: ContainerObjects) -> None:
    state[_OBJECTS_KEY] = objects
