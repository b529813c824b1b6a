"""Every operations metric Herald exports, in one place; all names start with `herald_`.

They are made on first use, not at import: prometheus-client decides, when it is first imported,
whether values live in this process's memory or in the host's shared files (multiprocess mode,
from PROMETHEUS_MULTIPROC_DIR), and each process's entry point sets that variable first
(`app.observability.process_files.prepare_metrics_dir`). So no Herald module imports
prometheus-client at import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Delivery outcomes, as `herald_deliveries_total` labels them.
SENT, FAILED, RETRYING, GAVE_UP, SKIPPED = "sent", "failed", "retrying", "gave_up", "skipped"

HTTP_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a fraction of a second (realtime sends) to the retry schedule's last attempt (~16 h).
TIME_TO_SENT_BUCKETS = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    16 * 3600.0,
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
    return Metrics(
        registry=registry,
        http_requests=Counter(
            "herald_http_requests",
            "HTTP requests answered, by route (the URL rule), method and status.",
            ["route", "method", "status"],
            registry=registry,
        ),
        http_request_seconds=Histogram(
            "herald_http_request_duration_seconds",
            "Time to answer an HTTP request, by route and method (WebSockets not included).",
            ["route", "method"],
            buckets=HTTP_SECONDS_BUCKETS,
            registry=registry,
        ),
        deliveries=Counter(
            "herald_deliveries",
            "Delivery outcomes by channel: sent, failed, retrying, gave_up, skipped.",
            ["channel", "outcome"],
            registry=registry,
        ),
        delivery_failures=Counter(
            "herald_delivery_failures",
            "Failed delivery attempts (failed, retrying, gave_up) by channel and reason class.",
            ["channel", "reason_class"],
            registry=registry,
        ),
        time_to_sent=Histogram(
            "herald_delivery_time_to_sent_seconds",
            "From a notification's acceptance (a scheduled one's send time) to each of its "
            "deliveries' sent, by channel; retries included.",
            ["channel"],
            buckets=TIME_TO_SENT_BUCKETS,
            registry=registry,
        ),
        websocket_connections=Gauge(
            "herald_websocket_connections",
            "Realtime WebSockets open.",
            registry=registry,
            # The sum over the host's live processes: a dead process's sockets are gone.
            multiprocess_mode="livesum",
        ),
        websocket_frames=Counter(
            "herald_websocket_frames",
            "Realtime frames handed to open WebSockets.",
            registry=registry,
        ),
        reconciler_actions=Counter(
            "herald_reconciler_actions",
            "What the reconciler did: requeued_notification, requeued_chunk, requeued_delivery, "
            "requeued_import (lost work) and released_retry (retries due).",
            ["action"],
            registry=registry,
        ),
        rate_limit_refusals=Counter(
            "herald_rate_limit_refusals",
            "API calls refused with 429 for a spent budget, by kind (read, write) and caller "
            "(server, user).",
            ["kind", "caller"],
            registry=registry,
        ),
    )
