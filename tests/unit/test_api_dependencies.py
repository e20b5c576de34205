"""The bridge from the container to Litestar: objects resolved once at startup, type-checked."""

from __future__ import annotations

import gc

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from application.create_order import CreateOrder
from entrypoints.api.app import create_app
from entrypoints.api.dependencies import ContainerObjects, FromContainer
from entrypoints.container import build_container
from entrypoints.settings import Settings

SETTINGS = Settings(mode="dev", payment_webhook_secrets=("s1",))


async def test_a_wrongly_wired_dependency_stops_startup() -> None:
    container = build_container(SETTINGS)
    container.create_order.override(providers.Object("not a use-case"))
    objects = ContainerObjects({"create_order": FromContainer("create_order", CreateOrder)})

    with pytest.raises(TypeError, match="expected CreateOrder"):
        await objects.open(container)


async def test_each_dependency_is_resolved_once_and_only_while_the_app_runs() -> None:
    container = build_container(SETTINGS)
    objects = ContainerObjects({"create_order": FromContainer("create_order", CreateOrder)})
    provide = objects.providers()["create_order"]

    with pytest.raises(RuntimeError, match="lifespan has not started"):
        objects.get("create_order")
    await objects.open(container)
    first = await provide()
    assert isinstance(first, CreateOrder)
    assert await provide() is first
    objects.close()
    with pytest.raises(RuntimeError, match="lifespan has not started"):
        await provide()


async def test_the_served_app_freezes_its_startup_objects_only_when_asked() -> None:
    assert gc.get_freeze_count() == 0
    try:
        async with AsyncTestClient(create_app(SETTINGS)) as client:
            assert (await client.get("/health")).status_code == 200
            assert gc.get_freeze_count() == 0
        async with AsyncTestClient(create_app(SETTINGS, freeze_startup_objects=True)) as client:
            assert (await client.get("/health")).status_code == 200
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
