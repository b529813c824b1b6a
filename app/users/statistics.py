"""Fresh planner statistics for `users` after users are created in bulk (PostgreSQL).

A new app whose users arrive in bulk (a group of 10,000 members, a batch to people Herald has
not seen, an import) leaves PostgreSQL planning with statistics from before: it then looks a
user up by app id through `ix_users_app_id_created_at` and filters every user of the app,
instead of using the unique index on (app_id, external_id). Each WebSocket handshake and each
send to a user then costs a scan of the app, until autovacuum analyzes the table (a minute or
more later). Analyzing the identity columns right after such a commit costs milliseconds.
"""

from __future__ import annotations

import logging

from redis import Redis, RedisError
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import Database

log = logging.getLogger(__name__)

BULK = 100  # users of one app created by one transaction that count as a bulk load
# Per app, across processes: a long batch or import analyzes every interval, not every chunk.
MIN_INTERVAL_S = 30.0
_CREATED = "herald_users_created"


def note_created(session: Session, *, app_id: str, count: int) -> None:
    """Record that this transaction created `count` users of the app (see `install`)."""
    if count:
        created: dict[str, int] = session.info.setdefault(_CREATED, {})
        created[app_id] = created.get(app_id, 0) + count


def install(database: Database, redis: Redis, key_prefix: str) -> None:
    """After a commit that created `BULK` users of an app or more, analyze `users`, unless that
    app's users were analyzed less than `MIN_INTERVAL_S` ago (a Redis key per app)."""
    if database.is_sqlite:
        return  # SQLite plans these lookups on the unique indexes without statistics

    def _due(app_id: str) -> bool:
        try:
            interval_ms = max(1, int(MIN_INTERVAL_S * 1000))
            return bool(redis.set(f"{key_prefix}{app_id}", "1", nx=True, px=interval_ms))
        except RedisError:
            return False  # an optimisation only: autovacuum analyzes the table later

    @event.listens_for(database.sessionmaker, "after_commit")
    def _analyze_after_bulk(session: Session) -> None:
        # Savepoints fire this too; only the outermost commit makes the users visible.
        if session.in_nested_transaction():
            return
        created: dict[str, int] = session.info.pop(_CREATED, {})
        # One ANALYZE covers every app; each bulk-loaded app still claims its interval.
        due = [app_id for app_id, count in created.items() if count >= BULK and _due(app_id)]
        if due:
            _analyze(database)

    @event.listens_for(database.sessionmaker, "after_rollback")
    def _forget(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(_CREATED, None)


def _analyze(database: Database) -> None:
    """Analyze the columns users are looked up by, in a transaction of its own."""
    try:
        with database.engine.connect() as connection:
            connection.execute(text("ANALYZE users (app_id, external_id, email)"))
            connection.commit()
    except SQLAlchemyError:  # statistics are an optimisation: never fail the request
        log.warning("could not analyze users after a bulk creation", exc_info=True)
