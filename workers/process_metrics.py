"""A worker host's part in the operations metrics (`app.observability`).

Worker processes write their counts to the host's metrics directory, as web processes do; on a
host of its own, with no web process to serve them, WORKER_METRICS_PORT serves the same
multiprocess collector. Dramatiq runs no Herald code in its main process, but runs a middleware's
`forks` there, each as a process of its own: the metrics server is one, started once per
`dramatiq` command, stopped with it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import dramatiq

from app.config import Settings
from app.observability.exposition import host_registry
from app.observability.metrics import metrics
from app.observability.process_files import forget_process, prepare_metrics_dir

if TYPE_CHECKING:
    from collections.abc import Callable

    from workers.reconciler import Reconciled

log = logging.getLogger(__name__)


class ProcessMetrics(dramatiq.Middleware):
    """Forgets this worker process's live gauges as it stops, and has the `dramatiq` command
    serve the host's metrics on WORKER_METRICS_PORT, when set."""

    def __init__(self, directory: Path | None, *, port: int) -> None:
        self.directory = directory
        self.port = port

    @property
    def forks(self) -> list[Callable[[], int]]:
        return [serve_worker_metrics] if self.port and self.directory else []

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.directory is not None:
            forget_process(os.getpid())


def serve_worker_metrics() -> int:
    """The metrics server's process (a Dramatiq fork): the host's metrics on
    WORKER_METRICS_PORT, at any path, until the `dramatiq` command stops it."""
    settings = Settings.from_env()
    prepare_metrics_dir(settings)
    from prometheus_client import start_http_server

    start_http_server(settings.worker_metrics_port, registry=host_registry())
    log.info("worker metrics served on port %d", settings.worker_metrics_port)
    threading.Event().wait()  # Dramatiq's SIGTERM handler ends the process from here
    return 0


def count_reconciled(result: Reconciled) -> None:
    """What one reconciler pass did, by action."""
    counter = metrics().reconciler_actions
    for action, count in (
        ("requeued_notification", result.notifications),
        ("requeued_chunk", result.chunks),
        ("requeued_delivery", result.deliveries),
        ("requeued_import", result.imports),
        ("released_retry", result.due_retries),
    ):
        if count:
            counter.labels(action).inc(count)
