"""The web engine: its pool checks idle connections before use, and autocommit sessions."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import event, text

from app import db
from app.db import Database
from app.extensions import autocommit_session, db_session
from app.users.models import User


def _backend_pid(database: Database) -> int:
    with database.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_postgresql_dropped_while_idle_is_replaced_without_an_error(
    postgresql_url: str, monkeypatch: pytest.MonkeyPatch
):
    database = Database(postgresql_url)
    other = Database(postgresql_url)
    try:
        dropped = _backend_pid(database)
        with other.engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # it has now been idle long enough

        assert _backend_pid(database) != dropped
    finally:
        database.dispose()
        other.dispose()


def test_a_connection_given_back_recently_is_used_without_a_ping(
    postgresql_url: str, monkeypatch: pytest.MonkeyPatch
):
    database = Database(postgresql_url)
    try:
        first = _backend_pid(database)
        pinged: list[object] = []
        monkeypatch.setattr(database.engine.dialect, "do_ping", pinged.append)
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)  # "recently", however slow the run

        assert _backend_pid(database) == first
        assert pinged == []
    finally:
        database.dispose()


def test_an_autocommit_session_commits_only_once_it_was_used(postgresql_url: str):
    database = Database(postgresql_url)
    commits: list[object] = []
    event.listen(database.sessionmaker, "after_commit", commits.append)
    try:
        with database.autocommit_session():
            pass  # a send answered from caches: not a statement
        assert commits == []

        with database.autocommit_session() as session:
            session.execute(text("SELECT 1"))
        assert len(commits) == 1  # its `after_commit` hooks ran
    finally:
        database.dispose()


def test_a_requests_autocommit_session_refuses_unflushed_writes_of_the_request(app: Flask):
    with app.test_request_context():
        db_session().add(User(app_id="no-app", external_id="pending"))

        with pytest.raises(RuntimeError, match="unflushed writes"), autocommit_session():
            pass
