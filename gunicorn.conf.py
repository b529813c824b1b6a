"""Gunicorn settings the Procfile's web process picks up (gunicorn reads ./gunicorn.conf.py)."""

from __future__ import annotations

import gc
from typing import Any


def post_worker_init(worker: Any) -> None:
    """Move everything the app allocated at start-up out of the collector's sight.

    Those ~250,000 objects (modules, the ORM's mappers, compiled templates and schemas) live
    as long as the worker, yet every full collection walked them again: ~80 ms of each pause,
    which a worker holding thousands of sockets takes while delivering. Objects created later,
    sockets included, are collected as before.
    """
    gc.freeze()


def on_starting(server: Any) -> None:
    """Prepare the host's metrics directory in the master, before it forks any worker: the
    workers inherit PROMETHEUS_MULTIPROC_DIR, and `child_exit` below finds it."""
    from app.config import Settings
    from app.observability.process_files import prepare_metrics_dir

    prepare_metrics_dir(Settings.from_env())


def child_exit(server: Any, worker: Any) -> None:
    """A web worker exited: its open WebSockets no longer count (prometheus-client's
    `mark_process_dead`); its counters still do."""
    from app.observability.process_files import forget_process

    forget_process(worker.pid)
