"""docs/architecture.md's picture of the folders is the tree: every top-level package of the
repository is in it with a one-line purpose, and nothing in it is gone from the tree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
#: ``name/   purpose``: a folder of the picture and what it is for.
FOLDER_LINE = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*)/ {2,}(?P<purpose>\S.*)$")


def top_level_packages() -> set[str]:
    """Directories at the repository's root that are Python packages."""
    return {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if not path.parent.name.startswith(".")
    }


def pictured_folders() -> dict[str, str]:
    """The folders of the first fenced block of docs/architecture.md, each with its purpose."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = text.split("```", 2)[1]
    folders: dict[str, str] = {}
    for line in block.splitlines():
        match = FOLDER_LINE.match(line)
        if match is not None:
            name = match["name"]
            assert name not in folders, f"{name}/ is pictured twice"
            folders[name] = match["purpose"].strip()
    return folders


def test_the_tree_has_the_packages_the_design_names() -> None:
    # The guard against a vacuous pass: the glob and the parser both find something.
    assert {"domain", "application", "adapters", "entrypoints"} <= top_level_packages()
    assert {"domain", "application", "adapters", "entrypoints"} <= set(pictured_folders())


def test_every_top_level_package_is_pictured_and_nothing_stale_is() -> None:
    packages, pictured = top_level_packages(), set(pictured_folders())
    assert not packages - pictured, f"not in docs/architecture.md: {sorted(packages - pictured)}"
    assert not pictured - packages, f"no longer in the tree: {sorted(pictured - packages)}"


def test_each_pictured_folder_says_what_it_is_for() -> None:
    for name, purpose in pictured_folders().items():
        assert len(purpose.split()) >= 3, f"{name}/ needs a purpose line, got {purpose!r}"
