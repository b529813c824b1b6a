"""A device or browser a user can be pushed to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, TimestampMixin

PLATFORMS = ("ios", "android", "safari", "web")
MOBILE_PLATFORMS = ("ios", "android")


class PushSubscription(Base, IdMixin, TimestampMixin):
    """`device_token` is the Web Push endpoint URL for `web`, the device token otherwise."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "token_hash"),
        # A claim reads its users' subscriptions by app and user ids; this index serves that
        # whatever the planner's statistics say, and the app's own listings by its prefix.
        Index("ix_push_subscriptions_app_id_user_id", "app_id", "user_id"),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    device_token: Mapped[str] = mapped_column(Text)
    # sha256 of device_token: tokens (push endpoint URLs) are too long to index directly.
    token_hash: Mapped[str] = mapped_column(String(64), index=True)
    p256dh: Mapped[str | None] = mapped_column(String(255))
    auth: Mapped[str | None] = mapped_column(String(255))
    app_bundle_id: Mapped[str | None] = mapped_column(String(155))
    discarded_at: Mapped[datetime | None] = mapped_column()

    @property
    def is_web_push(self) -> bool:
        return self.platform == "web"
