"""The OpenAPI document as a TypeScript frontend uses it: ``openapi-typescript`` (pinned in
tests/typescript/package.json and its lockfile) generates the types, and ``tsc --strict`` checks a
small client against them. The enums are real: a misspelt status does not compile.

Node and npm are needed; ``npm ci`` installs the two packages on first use (``.ci/run`` runs it
up front). Without Node the test skips, or fails under ``REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from entrypoints.api.app import create_app
from entrypoints.settings import Settings
from tests.services import unavailable

PACKAGE = Path(__file__).resolve().parents[2] / "typescript"
BIN = PACKAGE / "node_modules" / ".bin"
TSC_FLAGS = [
    "--strict",
    "--noEmit",
    "--noUncheckedIndexedAccess",
    "--target",
    "ES2022",
    "--module",
    "ES2022",
    "--moduleResolution",
    "bundler",
    "--lib",
    "ES2022,DOM",
]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own tools and files
        argv, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def tools() -> Path:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable("Node.js (node and npm)")
    assert npm is not None
    if not (BIN / "tsc").exists() or not (BIN / "openapi-typescript").exists():
        installed = _run([npm, "ci", "--no-audit", "--no-fund"], PACKAGE)
        assert installed.returncode == 0, installed.stderr
    return BIN


@pytest.fixture(scope="module")
def generated(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the generated ``schema.d.ts`` and the two client files."""
    folder = tmp_path_factory.mktemp("typescript")
    document = folder / "openapi.json"
    document.write_text(json.dumps(create_app(Settings()).openapi_schema.to_schema()))
    made = _run(
        [str(tools / "openapi-typescript"), str(document), "-o", str(folder / "schema.d.ts")],
        folder,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    for name in ("client.ts", "misspelt.ts"):
        shutil.copy(PACKAGE / name, folder / name)
    return folder


def test_the_generated_types_are_enums_not_strings(generated: Path) -> None:
    types = (generated / "schema.d.ts").read_text()
    assert '"sending_token_to_smartwallet"' in types
    assert '"idempotency_conflict"' in types
    assert "createOrder: {" in types
    assert "listAdminOrders: {" in types


def test_a_client_type_checks_with_tsc_strict(tools: Path, generated: Path) -> None:
    checked = _run([str(tools / "tsc"), *TSC_FLAGS, "client.ts"], generated)

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_misspelt_status_does_not_compile(tools: Path, generated: Path) -> None:
    checked = _run([str(tools / "tsc"), *TSC_FLAGS, "misspelt.ts"], generated)

    assert checked.returncode != 0
    # Refused for the reason meant: "complete" is not one of the statuses.
    assert "misspelt.ts(7," in checked.stdout, checked.stdout
    assert '"complete"' in checked.stdout
    assert "TS2367" in checked.stdout
