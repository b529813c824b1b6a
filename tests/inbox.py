"""Inbox test data: notifications put straight into a user's inbox, at chosen times."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.inbox.models import InboxNotification
from app.orm import utcnow
from app.runtime import Runtime
from app.users.service import find_or_create_user
from tests.factories import Tenant


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


def ago(minutes: int) -> datetime:
    return utcnow() - timedelta(minutes=minutes)
