"""Helpers for the recipient tests: users made directly, their Herald ids, and counting SQL
statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from app.runtime import Runtime
from app.users.models import User
from tests.support.factories import Tenant

WEB_KEYS = {
    "p256dh": (
        "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
    ),
    "auth": "tBHItJI5svbpez7KI4CCXg",
}
FCM_ENDPOINT = "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91bF"


def make_user(runtime: Runtime, tenant: Tenant, **fields: Any) -> str:
    """A user of the tenant's app, stored directly; returns its Herald id."""
    with runtime.database.transaction() as session:
        user = User(app_id=tenant.app_id, custom_attributes={}, phone_numbers=[], **fields)
        session.add(user)
        session.flush()
        return user.id


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements run on the engine inside the block."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def herald_id(runtime: Runtime, tenant: Tenant, external_id: str) -> str:
    """The Herald id of the tenant's user with this external id."""
    with runtime.database.session() as session:
        return session.scalar(
            select(User.id).where(User.app_id == tenant.app_id, User.external_id == external_id)
        )
