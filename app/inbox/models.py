"""One notification in one user's inbox; templated sends and broadcasts write the same rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, utcnow


class InboxNotification(Base, IdMixin):
    __tablename__ = "inbox_notifications"
    __table_args__ = (Index("ix_inbox_notifications_user_id_sent_at", "user_id", "sent_at"),)

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    notification_id: Mapped[str | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(255))
    content: Mapped[str | None] = mapped_column(Text)
    action_url: Mapped[str | None] = mapped_column(String(2048))
    category: Mapped[str | None] = mapped_column(String(100))
    topic: Mapped[str | None] = mapped_column(String(100))
    custom_attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # A literal send's row (broadcast, direct send): content and custom attributes are the
    # notification's in-app content, read from it (`app.inbox.service.inbox_views`), not copied.
    shared_content: Mapped[bool] = mapped_column(default=False, server_default=false())
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    archived_at: Mapped[datetime | None] = mapped_column()
