"""A user's stance on one topic as a whole, and on categories within it."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.orm import Base, IdMixin, TimestampMixin

SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"


class TopicSubscription(Base, IdMixin, TimestampMixin):
    """`status`: subscribed or unsubscribed to the whole topic, or None when the row only holds
    category choices (a user who opted out of one category of a topic they never followed)."""

    __tablename__ = "topic_subscriptions"
    __table_args__ = (
        UniqueConstraint("user_id", "topic"),
        Index("ix_topic_subscriptions_app_id_topic", "app_id", "topic"),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(String(16))

    categories: Mapped[list[TopicSubscriptionCategory]] = relationship(
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TopicSubscriptionCategory.slug",
        lazy="selectin",
    )


class TopicSubscriptionCategory(Base):
    __tablename__ = "topic_subscription_categories"

    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("topic_subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
