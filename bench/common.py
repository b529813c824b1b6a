"""What the Procfile benchmarks (`bench.batch`, `bench.mobile`) share: their command line's
common options, the private database of a run, and the CPU
and memory of the worker's process group."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support import services

WORKER_PROCESSES, WORKER_THREADS = 2, 16  # the Procfile's defaults


def procfile_parser(description: str) -> argparse.ArgumentParser:
    """`--targets`, `--sqlite`, `--threads` and `--processes`; a benchmark adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    parser.add_argument("--threads", type=int, default=WORKER_THREADS, help="worker threads")
    parser.add_argument("--processes", type=int, default=WORKER_PROCESSES, help="worker processes")
    return parser


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
