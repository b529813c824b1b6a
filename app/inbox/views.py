"""The inbox notification's wire shape, shared by the inbox API and realtime events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine.models import Notification
from app.inbox.models import InboxNotification
from app.wire import epoch


def in_app_content(in_app: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """An inbox row's content and custom attributes, from rendered or literal in-app content."""
    return in_app.get("body", in_app.get("content")), dict(in_app.get("custom_attributes") or {})


def inbox_views(session: Session, rows: Sequence[InboxNotification]) -> list[dict[str, Any]]:
    """Views of stored rows; rows of literal sends take their content from the notification
    (one query for all of them)."""
    ids = {row.notification_id for row in rows if row.shared_content and row.notification_id}
    shared: dict[str | None, Mapping[str, Any]] = {}
    if ids:
        # Only the in-app part: the email copy of a broadcast can be megabytes.
        in_app = Notification.content["in_app"]
        found = session.execute(select(Notification.id, in_app).where(Notification.id.in_(ids)))
        shared = {nid: content or {} for nid, content in found}
    return [
        inbox_view(row, shared.get(row.notification_id, {}) if row.shared_content else None)
        for row in rows
    ]


def inbox_view(
    row: InboxNotification, shared_in_app: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A row's view; a shared row (a literal send's) shows `shared_in_app`, its notification's
    in-app content, since the row itself stores none."""
    if row.shared_content:
        if shared_in_app is None:
            raise ValueError(f"inbox row {row.id} shares its notification's content: pass it")
        content, custom_attributes = in_app_content(shared_in_app)
    else:
        content, custom_attributes = row.content, row.custom_attributes or {}
    return {
        "id": row.id,
        "title": row.title,
        "content": content,
        "action_url": row.action_url,
        "category": row.category,
        "topic": row.topic,
        "custom_attributes": custom_attributes,
        "sent_at": epoch(row.sent_at),
        "seen_at": epoch(row.seen_at),
        "read_at": epoch(row.read_at),
        "archived_at": epoch(row.archived_at),
    }
