"""The import actor: upserts an import's users chunk by chunk, each chunk its own transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from app.imports import service

if TYPE_CHECKING:
    from app.runtime import Runtime

ONE_HOUR_MS = 60 * 60 * 1000


def declare_import_users(broker: RedisBroker, runtime: Runtime) -> dramatiq.Actor[[str], None]:
    """The `import_users` actor, declared on `broker`, importing into `runtime`'s database."""

    def import_users(import_id: str) -> None:
        """Import the waiting chunks of an import; safe to rerun (imported chunks are gone)."""
        service.run_import(runtime.database, import_id=import_id)

    return dramatiq.actor(
        import_users,
        broker=broker,
        queue_name="imports",
        max_retries=10,
        min_backoff=1_000,
        time_limit=ONE_HOUR_MS,
    )
