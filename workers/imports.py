"""The import actor: upserts an import's users chunk by chunk, each chunk its own transaction."""

from __future__ import annotations

import dramatiq

from app.imports import service
from workers.broker import broker
from workers.runtime import get_runtime

ONE_HOUR_MS = 60 * 60 * 1000


@dramatiq.actor(
    broker=broker,
    queue_name="imports",
    max_retries=10,
    min_backoff=1_000,
    time_limit=ONE_HOUR_MS,
)
def import_users(import_id: str) -> None:
    """Import the waiting chunks of an import; safe to rerun (imported chunks are gone)."""
    service.run_import(get_runtime().database, import_id=import_id)
