"""One sandbox on loopback for this package's tests, reset before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.integration.http.harness import Adapters, SandboxControl, running_sandbox


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture
async def sandbox(sandbox_url: str) -> AsyncIterator[SandboxControl]:
    control = SandboxControl(sandbox_url)
    await control.reset()
    try:
        yield control
    finally:
        await control.aclose()


@pytest.fixture
async def adapters(sandbox: SandboxControl) -> AsyncIterator[Adapters]:
    made = Adapters(sandbox.url)
    try:
        yield made
    finally:
        await made.aclose()
