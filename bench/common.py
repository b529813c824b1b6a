"""What the Procfile benchmarks (`bench.batch`, `bench.mobile`) share: their command line's
common options, the operations metrics on or off, the private database of a run, and the CPU
and memory of the worker's process group."""

from __future__ import annotations

import argparse
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import services

METRICS_TOKEN = "bench-metrics-token"
WORKER_PROCESSES, WORKER_THREADS = 2, 16  # the Procfile's defaults


def procfile_parser(description: str) -> argparse.ArgumentParser:
    """`--targets`, `--sqlite`, `--threads`, `--processes` and `--metrics`; a benchmark adds its
    own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--threads", type=int, default=WORKER_THREADS, help="worker threads")
    parser.add_argument("--processes", type=int, default=WORKER_PROCESSES, help="worker processes")
    parser.add_argument(
        "--metrics", action="store_true", help="operations metrics on (METRICS_TOKEN set)"
    )
    return parser


def metrics_environment(workdir: Path, *, enabled: bool) -> dict[str, str]:
    """The Procfile processes' environment for the operations metrics: on, in a directory of the
    run's own, as a production host runs them (every process writing its counts to its files),
    or off whatever METRICS_TOKEN this shell has."""
    if not enabled:
        return {"METRICS_TOKEN": ""}
    return {"METRICS_TOKEN": METRICS_TOKEN, "METRICS_DIR": str(workdir / "metrics")}


def sent_counted(base_url: str) -> float:
    """The deliveries the operations metrics counted as sent, all channels, read from the web
    process's GET /internal/metrics (every process of the run)."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(
        f"{base_url}/internal/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "herald_deliveries_total" and sample.labels.get("outcome") == "sent"
    )


@contextmanager
def private_database(workdir: Path, *, sqlite: bool) -> Iterator[str]:
    """The URL of a database of the run's own: a SQLite file in `workdir`, or a PostgreSQL
    database, dropped when the block ends."""
    url = f"sqlite:///{workdir / 'bench.db'}" if sqlite else services.create_postgres_database()
    try:
        yield url
    finally:
        if url.startswith("postgresql"):
            services.drop_postgres_database(url)


def _group_processes(pgid: int) -> list[tuple[Path, list[str]]]:
    """(/proc/PID, its stat fields after the command name) for every process of the group."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            found.append((proc, fields))
    return found


def group_rss_kib(pgid: int) -> int:
    """The resident memory of the group's processes, in KiB."""
    total = 0
    for proc, _ in _group_processes(pgid):
        try:
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total


def group_cpu_s(pgid: int) -> float:
    """User + system CPU seconds used so far by the group's processes."""
    ticks = sum(int(f[11]) + int(f[12]) for _, f in _group_processes(pgid))
    return ticks / os.sysconf("SC_CLK_TCK")
