"""Inbox test data: notifications put straight into a user's inbox, at chosen times."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from app.inbox.models import InboxNotification
from app.orm import utcnow
from app.runtime import Runtime
from app.tenants.models import App
from app.users.service import find_or_create_user
from tests.support.factories import Tenant, make_tenant


def put_in_inbox(
    runtime: Runtime,
    tenant: Tenant,
    external_id: str,
    *,
    title: str = "Hello",
    minutes_ago: int = 0,
    **fields: Any,
) -> str:
    """One inbox notification for the user (created if new); returns its id."""
    with runtime.database.transaction() as session:
        user = find_or_create_user(session=session, app_id=tenant.app_id, external_id=external_id)
        row = InboxNotification(
            app_id=tenant.app_id,
            user_id=user.id,
            title=title,
            sent_at=utcnow() - timedelta(minutes=minutes_ago),
            custom_attributes=fields.pop("custom_attributes", {}),
            **fields,
        )
        session.add(row)
        session.flush()
        return row.id


def fill_inbox(runtime: Runtime, tenant: Tenant, external_id: str, count: int) -> list[str]:
    """`count` notifications titled n0, n1, ... sent a minute apart; ids newest first."""
    ids = [
        put_in_inbox(runtime, tenant, external_id, title=f"n{i}", minutes_ago=count - i)
        for i in range(count)
    ]
    return ids[::-1]


@contextmanager
def disposable_tenants(runtime: Runtime) -> Iterator[Any]:
    """`make(name, **settings)` for tests on a shared database (a module's web process):
    the apps made, with everything they own, are deleted afterwards."""
    made: list[Tenant] = []

    def make(name: str = "acme", **settings: object) -> Tenant:
        made.append(make_tenant(runtime, name, **settings))
        return made[-1]

    try:
        yield make
    finally:
        with runtime.database.transaction() as session:
            session.execute(delete(App).where(App.id.in_([t.app_id for t in made])))
