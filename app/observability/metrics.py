"""Every operations metric Herald exports, in one place; all names start with `herald_`.

They are made on first use, not at import: prometheus-client decides, when it is first imported,
whether values live in this process's memory or in the host's shared files (multiprocess mode,
from PROMETHEUS_MULTIPROC_DIR), and each process's entry point sets that variable first
(`app.observability.process_files.prepare_metrics_dir`). So no Herald module imports
prometheus-client at import time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Delivery outcomes, as `herald_deliveries_total` labels them.
SENT, FAILED, RETRYING, GAVE_UP, SKIPPED = "sent", "failed", "retrying", "gave_up", "skipped"

HTTP_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a fraction of a second (realtime sends) to the retry schedule's last attempt (~16 h).
HOUR_S = 3600.0
TIME_TO_SENT_BUCKETS = (
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    HOUR_S,
    4 * HOUR_S,
    16 * HOUR_S,
)


@dataclass(frozen=True)
class Metrics:
    """This process's metric objects. `registry` holds them for a process that keeps its values
    in memory; in multiprocess mode the values are in the host's files, read by a collector."""

    registry: CollectorRegistry
    http_requests: Counter
    http_request_seconds: Histogram
    deliveries: Counter
    delivery_failures: Counter
    time_to_sent: Histogram
    websocket_connections: Gauge
    websocket_frames: Counter
    reconciler_actions: Counter
    rate_limit_refusals: Counter


_made: list[Metrics] = []
_making = threading.Lock()


def metrics() -> Metrics:
    """This process's metrics, made on the first call (see the module's docstring).

    Made once, however many threads ask at once: in multiprocess mode each metric object keeps
    its value and rewrites it to the file, so a second object of the same name would overwrite
    the first one's counts. The lock is only taken until then.
    """
    if not _made:
        with _making:
            if not _made:
                _made.append(_make_metrics())
    return _made[0]


def _make_metrics() -> Metrics:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()

    def counter(name: str, description: str, *labels: str) -> Counter:
        return Counter(name, description, labels, registry=registry)

    def histogram(name: str, description: str, buckets: Sequence[float], *labels: str) -> Histogram:
        return Histogram(name, description, labels, buckets=buckets, registry=registry)

    return Metrics(
        registry=registry,
        http_requests=counter(
            "herald_http_requests", "HTTP requests answered.", "route", "method", "status"
        ),
        http_request_seconds=histogram(
            "herald_http_request_duration_seconds",
            "Time to answer an HTTP request (WebSockets not included).",
            HTTP_SECONDS_BUCKETS,
            "route",
            "method",
        ),
        deliveries=counter(
            "herald_deliveries",
            "Delivery outcomes: sent, failed, retrying, gave_up, skipped.",
            "channel",
            "outcome",
        ),
        delivery_failures=counter(
            "herald_delivery_failures",
            "Failed delivery attempts by their reason's class.",
            "channel",
            "reason_class",
        ),
        time_to_sent=histogram(
            "herald_delivery_time_to_sent_seconds",
            "From a notification's acceptance (or scheduled time) to each delivery's sent.",
            TIME_TO_SENT_BUCKETS,
            "channel",
        ),
        # Summed over the host's live processes: a dead process's sockets are gone.
        websocket_connections=Gauge(
            "herald_websocket_connections",
            "Realtime WebSockets open.",
            registry=registry,
            multiprocess_mode="livesum",
        ),
        websocket_frames=counter("herald_websocket_frames", "Frames handed to WebSockets."),
        reconciler_actions=counter(
            "herald_reconciler_actions", "What the reconciler requeued or released.", "action"
        ),
        rate_limit_refusals=counter(
            "herald_rate_limit_refusals", "API calls refused for a spent budget.", "kind", "caller"
        ),
    )
