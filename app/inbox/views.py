"""The inbox notification's wire shape (seed 002), shared by the API and realtime events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.inbox.models import InboxNotification


def epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def inbox_view(row: InboxNotification) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "content": row.content,
        "action_url": row.action_url,
        "category": row.category,
        "topic": row.topic,
        "custom_attributes": row.custom_attributes or {},
        "sent_at": epoch(row.sent_at),
        "seen_at": epoch(row.seen_at),
        "read_at": epoch(row.read_at),
        "archived_at": epoch(row.archived_at),
    }
