"""Probes, the OpenAPI document and its docs page, and the answers for routes that do not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from dependency_injector import providers

from adapters.clock import SystemClock
from adapters.fakes import RecordingScheduler
from adapters.memory import InMemoryOrderRepository
from application.errors import InfrastructureUnavailable
from entrypoints.container import Container
from tests.support.api import PROBLEM, Api, StartApi


class UnreachableRepository(InMemoryOrderRepository):
    """A repository whose store does not answer."""

    async def ping(self) -> None:
        raise InfrastructureUnavailable("repository", "connection refused")


@pytest.fixture
async def store_down(start_api: StartApi) -> AsyncIterator[Api]:
    def configure(container: Container) -> None:
        container.repository.override(providers.Singleton(UnreachableRepository))

    async with start_api(configure) as running:
        yield running


async def test_health_answers_while_the_process_is_up(api: Api) -> None:
    response = await api.client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_repository_and_the_queue_answer(api: Api) -> None:
    response = await api.client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"repository": "ok", "queue": "ok"},
        # The tests run in dev mode on stand-ins (docs/adr/0008-orders-mode.md).
        "adapters": {
            "repository": "memory",
            "payment_gateway": "fake",
            "wallet_service": "fake",
            "transfer_service": "fake",
            "queue": "inprocess",
        },
        # No MongoDB, no write concern to report.
        "write_concern": None,
    }


async def test_not_ready_is_a_503_naming_the_repository(store_down: Api) -> None:
    response = await store_down.client.get("/ready")

    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM
    assert "repository" in response.json()["detail"]
    # The process itself is fine.
    assert (await store_down.client.get("/health")).status_code == 200


@pytest.fixture
async def queue_down(start_api: StartApi) -> AsyncIterator[Api]:
    def configure(container: Container) -> None:
        scheduler = RecordingScheduler(SystemClock())
        scheduler.unavailable = True
        container.scheduler.override(providers.Object(scheduler))

    async with start_api(configure) as running:
        yield running


async def test_not_ready_is_a_503_naming_the_queue(queue_down: Api) -> None:
    response = await queue_down.client.get("/ready")

    assert response.status_code == 503
    assert "queue" in response.json()["detail"]
    assert "repository" not in response.json()["detail"]


async def test_an_unknown_route_is_a_404_problem(api: Api) -> None:
    response = await api.client.get("/api/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_a_wrong_method_is_a_405_problem_with_allow(api: Api) -> None:
    response = await api.client.delete("/api/orders")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert "POST" in response.headers["allow"]


async def test_the_openapi_document_lists_every_endpoint_and_its_problems(api: Api) -> None:
    response = await api.client.get("/schema/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    operations = {(path, method) for path, item in paths.items() for method in item}
    assert operations == {
        ("/api/orders", "post"),
        ("/api/orders", "get"),
        ("/api/orders/{order_id}", "get"),
        ("/api/orders/{order_id}/events", "get"),
        ("/api/webhooks/payments", "post"),
        ("/api/webhooks/nowpayments", "post"),
        ("/health", "get"),
        ("/ready", "get"),
        # The operator's (docs/operations.md).
        ("/api/admin/orders", "get"),
        ("/api/admin/orders/{order_id}/history", "get"),
        ("/api/admin/orders/{order_id}/events", "get"),
        ("/api/admin/stats", "get"),
        ("/api/admin/orders/{order_id}/retry", "post"),
        # Event redelivery (issue 15).
        ("/api/admin/orders/{order_id}/events/redeliver", "post"),
        ("/api/admin/events/{event_id}/redeliver", "post"),
        # Refunds and re-sends (docs/refunds.md).
        ("/api/admin/orders/{order_id}/refund", "post"),
        ("/api/admin/orders/{order_id}/retry-transfer", "post"),
        ("/api/admin/stats/period", "get"),
    }
    create = paths["/api/orders"]["post"]
    assert set(create["responses"]) >= {"201", "400", "409", "413", "415", "502", "503", "504"}
    assert "Idempotent-Replayed" in create["responses"]["201"]["headers"]
    # Every rate-limited route documents its 429; the webhook and the probes are never limited.
    for path, method in operations:
        limited = path.startswith("/api/") and not path.startswith("/api/webhooks/")
        assert ("429" in paths[path][method]["responses"]) is limited, (path, method)
    webhook = paths["/api/webhooks/payments"]["post"]
    assert set(webhook["responses"]) >= {"200", "202", "400", "401", "404", "413", "415", "503"}
    ipn = paths["/api/webhooks/nowpayments"]["post"]
    assert set(ipn["responses"]) >= {"200", "202", "400", "401", "404", "413", "415", "503"}
    for path, item in paths.items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    assert list(answer["content"]) == [PROBLEM], (path, method, status)


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_the_interactive_docs_pages_are_served(api: Api, page: str) -> None:
    response = await api.client.get(page)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>orders-service</title>" in response.text
