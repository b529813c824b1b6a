"""One stored choice: a user's channel switched on or off for one category."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, TimestampMixin


class NotificationPreference(Base, IdMixin, TimestampMixin):
    """Absent rows mean enabled: only what a user set is stored."""

    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "category", "channel"),)

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean)
    # Set when an email unsubscribe link switched the channel off (deliveries then say
    # `unsubscribed`, not `preference`); cleared when the preferences API changes it.
    unsubscribed_at: Mapped[datetime | None] = mapped_column()
