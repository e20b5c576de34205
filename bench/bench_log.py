"""The cost of one log line, as the service writes it: the API's per-request line (structlog's
bound logger, JSON rendered to bytes) and a library's stdlib line, each written and flushed to
a real file (``/dev/null``: one ``write`` system call per line, as to a pipe or a file), with the
request context bound and the settings' secrets registered, as in ``orders-service api``.

    python -m bench.bench_log [--lines 20000] [--repeats 7]

Each row is ``--repeats`` timed batches of ``--lines`` lines; the median and the best batch are
reported in µs of this process's CPU time per line (the wall clock's median beside it: on a
shared machine it also counts the time other processes held the CPU). Target: the request line
≤ 15 µs.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from entrypoints import log_config as logs
from entrypoints.log_config import bind_request, configure_logging, reset_logging
from entrypoints.settings import Settings

TARGET_US = 15.0


def _settings(fmt: str, level: str = "info") -> Settings:
    # Secrets registered as in production: the text scan has something to look for.
    return Settings(
        log_format=fmt,
        log_level=level,
        admin_token="adm_0123456789abcdef",
        payment_gateway_api_key="gw_key_0123456789",
        wallet_api_key="wallet_key_0123456789",
        transfer_api_key="transfer_key_0123456789",
        payment_webhook_secrets=("whsec_0123456789abcdef", "whsec_fedcba9876543210"),
    )


def _request_line() -> None:
    logs.http_log.info(
        "request",
        method="POST",
        path="/api/orders",
        route="/api/orders",
        status=201,
        duration_ms=0.42,
    )


_library = logging.getLogger("uvicorn.error")


def _library_line() -> None:
    _library.info("connection from %s closed", "127.0.0.1:51234")


def _time(line: Callable[[], None], lines: int, repeats: int) -> list[tuple[float, float]]:
    """Per batch: (CPU µs per line, wall-clock µs per line). The CPU time of this process is
    what a line costs; the wall clock also counts the time other processes held the CPU."""
    batches = []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(lines):
            line()
        batches.append(
            (
                (time.process_time() - cpu) / lines * 1e6,
                (time.perf_counter() - wall) / lines * 1e6,
            )
        )
    return batches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_log", description=__doc__)
    parser.add_argument("--lines", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rows = [
        ("request line, JSON (LOG_FORMAT=json)", "json", "info", _request_line),
        ("request line, console (the default format)", "console", "info", _request_line),
        ("library stdlib line, JSON", "json", "info", _library_line),
        ("request line below the level (LOG_LEVEL=warning)", "json", "warning", _request_line),
    ]
    results = []
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for name, fmt, level, line in rows:
            configure_logging(_settings(fmt, level), stream=sink)
            bind_request(
                "3f2a9c0d1e7a6b5c4d3e2f1a0b9c8d7e",
                order_id="9a64f7c3-47d9-5896-8f83-59ba8d71e0bd",
            )
            try:
                _time(line, 2000, 1)  # warm-up
                results.append((name, _time(line, args.lines, args.repeats)))
            finally:
                reset_logging()
    print(
        f"One run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.repeats} batches "
        f"of {args.lines} lines per row, written to {os.devnull}.\n"
    )
    print("| line | CPU µs/line, median | CPU µs/line, best | wall µs/line, median |")
    print("| --- | ---: | ---: | ---: |")
    for name, batches in results:
        cpu = [c for c, _ in batches]
        wall = [w for _, w in batches]
        print(
            f"| {name} | {statistics.median(cpu):.2f} | {min(cpu):.2f} | "
            f"{statistics.median(wall):.2f} |"
        )
    request = statistics.median(c for c, _ in results[0][1])
    verdict = "met" if request <= TARGET_US else "MISSED"
    print(
        f"\n- request line (JSON): **{request:.2f} µs of CPU** "
        f"(target <= {TARGET_US:.0f} µs): {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
