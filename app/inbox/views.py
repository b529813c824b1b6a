"""The inbox notification's wire shape, shared by the inbox API and realtime events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.inbox.models import InboxNotification
from app.wire import epoch


def in_app_content(in_app: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """An inbox row's content and custom attributes, from rendered or literal in-app content."""
    return in_app.get("body", in_app.get("content")), dict(in_app.get("custom_attributes") or {})


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
