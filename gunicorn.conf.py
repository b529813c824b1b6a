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
