"""What the Procfile benchmarks (`bench.batch`, `bench.mobile`) share: their command line's
common options and the private database of a run."""

from __future__ import annotations

import argparse
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
