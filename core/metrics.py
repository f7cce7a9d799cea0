"""Prometheus metrics of this process, exposed at /metrics.

Counters are per process (web and worker each count what they do); the
scrape of the web process is what dashboards read. See docs/operations.md.
"""

from functools import lru_cache
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

ws_connections = Gauge("charla_websocket_connections", "Open WebSocket connections", ["kind"])
messages_total = Counter("charla_messages_total", "Messages stored", ["sender"])
deliveries_total = Counter("charla_deliveries_total", "Frames delivered to sockets", ["kind"])
delivery_latency = Histogram(
    "charla_delivery_latency_seconds",
    "From message commit to the frame leaving a socket",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
http_errors_total = Counter("charla_http_errors_total", "HTTP 5xx answers", ["path"])
queue_size = Gauge("charla_queue_size", "Conversations waiting for an agent")


@lru_cache(maxsize=64)
def labelled(metric: Any, value: str) -> Any:
    """``metric.labels(value)``, the child kept: on a hot path (a counter per
    message or frame) ``labels()`` is a lookup under a lock every time."""
    return metric.labels(value)
