"""Access to the process's runtime and actors from inside a Flask request."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.composition import Process
from app.db import is_connection_lost
from app.runtime import Runtime
from workers.actors import Actors

log = logging.getLogger(__name__)

READ_METHODS = frozenset({"GET", "HEAD"})


def runtime() -> Runtime:
    return current_app.extensions["herald"]


def actors() -> Actors:
    """The process's actors: what a route enqueues committed work with."""
    return current_app.extensions["herald_actors"]


def db_session() -> Session:
    """The request's session; the route commits, teardown closes (rolling back what was not)."""
    if "db_session" not in g:
        g.db_session = runtime().database.session()
    return g.db_session


@contextmanager
def autocommit_session() -> Iterator[Session]:
    """A session whose statements commit one by one, for a request's one-statement hot path.

    The request's own transaction, if it began one, ends first: SQLite lets one transaction
    at a time hold its lock, and Herald's SQLite transactions all take it. Meant for requests
    that have only read so far: pending ORM changes are refused, but statements the request
    already executed are committed here, before the rest of its work.
    """
    session = g.get("db_session")
    if session is not None:
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("autocommit_session() with unflushed writes in the request")
        if session.in_transaction():  # none when authentication was answered from the cache
            session.commit()
    with runtime().database.autocommit_session() as session:
        yield session


def retry_reads_once(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run a read once more, on a fresh connection, when its database connection was lost.

    A restarted or failed-over database, or an administrator's kill, ends every pooled
    connection at once (SQLAlchemy then discards the pool). A read changed nothing, so
    repeating it is safe; a write is answered 503 instead (`app.errors`), since whether it
    committed cannot be known here.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.method not in READ_METHODS:
            return view(*args, **kwargs)
        try:
            return view(*args, **kwargs)
        except DBAPIError as exc:
            if not is_connection_lost(exc):
                raise
            log.warning("database connection lost during a read; once more on a fresh one")
            stale = g.pop("db_session", None)
            if stale is not None:
                stale.close()
            return view(*args, **kwargs)

    return wrapper


def init_app(app: Flask, process: Process) -> None:
    app.extensions["herald"] = process.runtime
    app.extensions["herald_actors"] = process.actors

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is None:
            return
        try:
            session.close()  # rolls back what was not committed
        except DBAPIError:  # the connection died with the request's work: nothing to undo
            log.warning("database connection lost while closing a request's session")
            session.invalidate()
