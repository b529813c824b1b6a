"""Engine and session handling shared by the web process, the workers and the CLI."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Table, Update, create_engine, event, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """One engine and session factory per process, built from a database URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _build_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        # Shares the engine's pool; its connections are checked out on a session's first
        # statement only, so a hot path that the caches answer never touches the pool.
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        """A new session; the caller commits and closes it."""
        return self.sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        with self.sessionmaker.begin() as session:
            yield session

    @contextmanager
    def connection_transaction(self) -> Iterator[Connection]:
        """A Core connection in a transaction, committed when the block succeeds."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def autocommit_session(self) -> Iterator[Session]:
        """A session whose statements each commit on their own, for one-statement hot paths.

        On PostgreSQL this saves the BEGIN and COMMIT round trips; SQLite (whose connections
        begin IMMEDIATE transactions) gets an ordinary transaction, committed at the end.
        """
        if self.is_sqlite:
            with self.transaction() as session:
                yield session
            return
        with self.sessionmaker(bind=self._autocommit_engine) as session:
            yield session
            # No round trip under AUTOCOMMIT; it flushes ORM changes and runs `after_commit`
            # hooks (the credential generation) exactly as SQLite's transaction does. A session
            # never used (a send answered from caches) has nothing to commit: `add` and every
            # statement begin its transaction.
            if session.in_transaction():
                session.commit()

    @contextmanager
    def autocommit_connection(self) -> Iterator[Connection]:
        """A Core connection whose statements each commit on their own (as `autocommit_session`)."""
        if self.is_sqlite:
            with self.engine.begin() as connection:
                yield connection
            return
        with self._autocommit_engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def is_connection_lost(error: DBAPIError) -> bool:
    """The connection died or could not be made (a restart, a failover, an administrator's
    kill), rather than the statement being wrong: worth another try on a fresh connection."""
    return bool(error.connection_invalidated) or isinstance(error, OperationalError)


def update_first(
    table: Table,
    *where: ColumnElement[bool],
    order_by: ColumnElement[Any],
    limit: int,
    chosen_if: Sequence[ColumnElement[bool]] = (),
) -> Update:
    """An UPDATE of the first `limit` rows (by `order_by`) that match `where` and `chosen_if`,
    which checks `where` again on each row it updates: a row that a concurrent statement moved
    meanwhile is left alone, so two callers never both take one row. Add its `values` (and
    `returning`)."""
    chosen = select(table.c.id).where(*where, *chosen_if).order_by(order_by).limit(limit)
    return update(table).where(table.c.id.in_(chosen.scalar_subquery()), *where)


def _build_engine(url: str) -> Engine:
    """Commits are durable everywhere: a worker's claim or outcome lost in a PostgreSQL crash
    would mean a second send. Pooled connections are pinged only after sitting idle."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_recycle=900, pool_size=10, max_overflow=20)
    _ping_idle_connections(engine)
    return engine


PING_AFTER_IDLE_S = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it sat idle for a while.

    A connection given back less than a second ago was working then; pinging it again cost
    every request a round trip. Should one still have died (PostgreSQL restarted within that
    second), the error invalidates the whole pool, so only requests already under way fail.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("checked_in_at")
        if idle_since is not None and time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            if not engine.dialect.do_ping(dbapi_connection):
                raise DisconnectionError("ping failed")
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("ping failed") from exc


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys and IMMEDIATE transactions, so web and worker processes can share a file.

    Deferred transactions that later write fail at once with "database is locked" when another
    process wrote in between; BEGIN IMMEDIATE waits on the busy timeout instead.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
