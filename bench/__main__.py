"""``python -m bench [NAME ...]``: run every benchmark (each ``bench/bench_*.py`` module's
``main``) with its defaults, or only those whose name contains one of NAME. Results go to stdout;
copy the tables into docs/benchmarks.md with the command that produced them."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    chosen = [n for n in names if not argv or any(a in n for a in argv)]
    failed = []
    for name in chosen:
        print(f"## {name}", flush=True)
        code = importlib.import_module(f"bench.{name}").main([])
        if code:
            failed.append(name)
        print(flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
