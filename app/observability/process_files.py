"""Where a host's processes share their metrics: prometheus-client's multiprocess mode.

Each web and worker process writes its counts to files of its own (named by its pid) in one
directory per host, PROMETHEUS_MULTIPROC_DIR; a scrape reads them all. Each process's entry point
prepares it before any metric exists: `app.create_app` (and gunicorn's master, through
gunicorn.conf.py), `app.composition.worker_broker`, and the worker metrics server. The directory
is PROMETHEUS_MULTIPROC_DIR when the environment gives it, else METRICS_DIR (default
instance/metrics) when someone reads the metrics (METRICS_TOKEN or WORKER_METRICS_PORT set);
otherwise counts stay in each process's memory, where they cost no file writes.

A process that exits leaves its counters' files behind on purpose: totals never go down, and
Prometheus reads a total that went down as a restart. Its live gauges (open WebSockets) are
forgotten as prometheus-client's documentation says, with `mark_process_dead`: by gunicorn's
master when a web worker exits, by a worker process as it stops, and, for processes killed
without a chance to, by the next process that prepares the directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from app.config import Settings, local_instance_dir

DIRECTORY_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client's files of live gauges: gauge_livesum_<pid>.db, gauge_liveall_<pid>.db, ...
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def prepare_metrics_dir(settings: Settings) -> Path | None:
    """Make this host's metrics directory ready and name it in PROMETHEUS_MULTIPROC_DIR, before
    this process creates any metric; None when metrics stay in this process's memory."""
    directory = metrics_dir(settings)
    if directory is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[DIRECTORY_VARIABLE] = str(directory)
    forget_dead_processes(directory)
    return directory


def metrics_dir(settings: Settings) -> Path | None:
    """The directory this host's processes share, or None when nobody reads their metrics."""
    given = os.environ.get(DIRECTORY_VARIABLE)
    if given:
        return Path(given)
    if not (settings.metrics_token or settings.worker_metrics_port):
        return None
    return Path(settings.metrics_dir) if settings.metrics_dir else local_instance_dir() / "metrics"


def shared_metrics_dir() -> Path | None:
    """The directory this process writes its metrics to, if it was prepared."""
    given = os.environ.get(DIRECTORY_VARIABLE)
    return Path(given) if given else None


def forget_process(pid: int) -> None:
    """A process of this host exited: its live gauges no longer count (its counters do)."""
    directory = shared_metrics_dir()
    if directory is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, str(directory))


def forget_dead_processes(directory: Path) -> None:
    """Forget the live gauges of processes that died without doing so themselves (kill -9).

    The directory belongs to one host: a pid is only meaningful among that host's processes.
    """
    pids = {int(match[1]) for p in directory.iterdir() if (match := _LIVE_GAUGE_FILE.match(p.name))}
    dead = [pid for pid in pids if not _is_running(pid)]
    if not dead:
        return
    from prometheus_client import multiprocess

    for pid in dead:
        multiprocess.mark_process_dead(pid, str(directory))


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user
        return True
    return True
