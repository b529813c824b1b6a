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
import math
import threading
import time

from redis import Redis, RedisError
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db import Database

log = logging.getLogger(__name__)

BULK = 100  # users created by one transaction that count as a bulk load
MIN_INTERVAL_S = 30.0  # a long batch analyzes a few times, not once per chunk
_CREATED = "herald_users_created"


def note_created(session: Session, count: int) -> None:
    """Record that this transaction created `count` users (see `install`)."""
    session.info[_CREATED] = session.info.get(_CREATED, 0) + count


def refresh(database: Database) -> None:
    """Analyze the columns users are looked up by, in a transaction of its own."""
    if database.is_sqlite:
        return
    with database.engine.connect() as connection:
        connection.execute(text("ANALYZE users (app_id, external_id, email)"))
        connection.commit()


def install(database: Database, redis: Redis, lock_key: str) -> None:
    """After a commit that created `BULK` users or more, refresh: at most once per interval
    across every process sharing this Redis (and, should Redis fail, once per process)."""
    if database.is_sqlite:
        return  # SQLite plans these lookups on the unique indexes without statistics
    last = [-math.inf]
    lock = threading.Lock()

    def _due() -> bool:
        with lock:
            now = time.monotonic()
            if now - last[0] < MIN_INTERVAL_S:
                return False
            last[0] = now
        try:
            interval_ms = max(1, int(MIN_INTERVAL_S * 1000))
            return bool(redis.set(lock_key, "1", nx=True, px=interval_ms))
        except RedisError:
            return True  # this process's own interval still bounds it

    @event.listens_for(database.sessionmaker, "after_commit")
    def _analyze_after_bulk(session: Session) -> None:
        # Savepoints fire this too; only the outermost commit makes the users visible.
        if session.in_nested_transaction() or session.info.pop(_CREATED, 0) < BULK:
            return
        if not _due():
            return
        try:
            refresh(database)
        except SQLAlchemyError:  # statistics are an optimisation: never fail the request
            log.warning("could not analyze users after a bulk creation", exc_info=True)

    @event.listens_for(database.sessionmaker, "after_rollback")
    def _forget(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(_CREATED, None)
