"""`last_seen_at` of WebSocket handshakes, written for many handshakes in one statement.

When thousands of clients reconnect at once (a web process restarted), each handshake would
otherwise pay a session, a pool checkout and a commit for one row. Handshakes in flight in a
process hand their users to a shared batch instead (app.group_commit): one statement (two when
some name their user by email) moves every named user's `last_seen_at` and returns their ids. A
handshake still waits for its write, so it learns whether its user exists, exactly as with a
statement of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import bindparam, tuple_, update
from sqlalchemy.sql.dml import Update

from app.db import Database
from app.group_commit import GroupCommit
from app.orm import utcnow
from app.users.models import User


class UserName(NamedTuple):
    """A user as a handshake names it: by external id, else by email (`column`)."""

    app_id: str
    column: str
    value: str


class LastSeenWriter:
    """Moves handshake users' `last_seen_at` to now, group-committed across this process."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._batches: GroupCommit[UserName, str | None] = GroupCommit(self._write)

    def touch(self, *, app_id: str, external_id: str | None, email: str | None) -> str | None:
        """The id of the existing user named so, now seen; None when there is no such user."""
        if external_id:
            return self._batches.submit(UserName(app_id, "external_id", external_id))
        return self._batches.submit(UserName(app_id, "email", email or ""))

    def _write(self, names: Sequence[UserName]) -> list[str | None]:
        found: dict[UserName, str] = {}
        now = utcnow()
        # One statement per kind of name, each atomic on its own: no BEGIN and COMMIT trips.
        with self._database.autocommit_connection() as connection:
            for column, statement in _TOUCH.items():
                # Sorted: two processes' batches then lock shared rows in the same order.
                keys = sorted({(n.app_id, n.value) for n in names if n.column == column})
                if keys:
                    rows = connection.execute(statement, {"keys": keys, "now": now})
                    found.update(
                        (UserName(app_id, column, value), id_) for app_id, value, id_ in rows
                    )
        return [found.get(name) for name in names]


def _touch_by(column: str) -> Update:
    users = User.__table__.c
    return (
        update(User.__table__)
        .where(tuple_(users.app_id, users[column]).in_(bindparam("keys", expanding=True)))
        .values(last_seen_at=bindparam("now"))
        .returning(users.app_id, users[column], users.id)
    )


_TOUCH = {column: _touch_by(column) for column in ("external_id", "email")}
