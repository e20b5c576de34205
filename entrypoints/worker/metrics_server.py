"""The worker's Prometheus endpoint: prometheus-client's own HTTP server on a daemon thread,
serving this process's registry (downstream calls, status moves, retries of the jobs it runs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import start_http_server


@dataclass(frozen=True, slots=True)
class MetricsListener:
    """A running ``/metrics`` listener: where it listens, and how to stop it."""

    host: str
    port: int
    stop: Callable[[], None]


def serve_metrics(address: str) -> MetricsListener:
    """Serve ``/metrics`` on ``host:port`` (port 0: any free one) until ``stop()``."""
    host, _, port = address.rpartition(":")
    server, thread = start_http_server(int(port), addr=host.strip("[]"))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    bound = server.server_address
    return MetricsListener(host=str(bound[0]), port=int(bound[1]), stop=stop)
