"""Access to the process runtime from inside a Flask request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from app.runtime import Runtime


def runtime() -> Runtime:
    return current_app.extensions["herald"]


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


def init_app(app: Flask, rt: Runtime) -> None:
    app.extensions["herald"] = rt

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
