"""Access to the process runtime from inside a Flask request."""

from __future__ import annotations

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


def init_app(app: Flask, rt: Runtime) -> None:
    app.extensions["herald"] = rt

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
