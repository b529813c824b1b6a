"""The inbox rows a fan-out writes: built from a recipient's rendered in-app content, checked
against their columns, and turned into the values of one executemany insert."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect

from app.engine.models import Notification
from app.inbox.models import InboxNotification
from app.inbox.views import in_app_content
from app.orm import new_id, utcnow
from app.users.models import User

_INBOX_COLUMNS = tuple(column.key for column in InboxNotification.__table__.columns)


def inbox_values(row: InboxNotification) -> dict[str, Any]:
    """What is stored: a shared row's content is its notification's, so the row holds none.

    Only the attributes `inbox_row` set: the INSERT fills every other column's default.
    """
    given = inspect(row).dict
    values = {key: given[key] for key in _INBOX_COLUMNS if key in given}
    if row.shared_content:
        values.update(content=None, custom_attributes={})
    return values


# The inbox columns a rendered value must fit (a title is cut to its length instead).
_IN_APP_LIMITS = {
    name: InboxNotification.__table__.c[name].type.length
    for name in ("action_url", "category", "topic")
}


def in_app_overflow(in_app: Mapping[str, Any]) -> str | None:
    """Why a rendered inbox row cannot be stored, if it cannot: a value rendered from a
    recipient's variables can outgrow its column, which would fail the whole chunk."""
    for name, limit in _IN_APP_LIMITS.items():
        value = in_app.get(name)
        if isinstance(value, str) and len(value) > limit:
            return f"in_app.{name} renders to more than {limit} characters"
    return None


def inbox_row(
    notification: Notification, user: User, in_app: Mapping[str, Any], *, shared: bool
) -> InboxNotification:
    content, custom_attributes = in_app_content(in_app)
    return InboxNotification(
        id=new_id(),
        app_id=notification.app_id,
        user_id=user.id,
        notification_id=notification.id,
        title=(in_app.get("title") or notification.title or "")[:255],
        content=content,
        action_url=in_app.get("action_url"),
        category=in_app.get("category") or notification.category,
        topic=in_app.get("topic") or notification.topic,
        custom_attributes=custom_attributes,
        shared_content=shared,
        sent_at=utcnow(),
    )
