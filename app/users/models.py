"""A user belongs to one app and is known by external id, email, or both."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, TimestampMixin


class User(Base, IdMixin, TimestampMixin):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("app_id", "external_id"),
        UniqueConstraint("app_id", "email"),
        # GET /users pages through an app's users newest first.
        Index("ix_users_app_id_created_at", "app_id", "created_at"),
        # The dashboard finds users by the start of an external id or email (LIKE 'prefix%'):
        # PostgreSQL uses a btree for LIKE only under the C collation or with the pattern
        # operator class, so these have it (SQLite ignores it).
        Index(
            "ix_users_app_id_external_id_pattern",
            "app_id",
            "external_id",
            postgresql_ops={"external_id": "text_pattern_ops"},
        ),
        Index(
            "ix_users_app_id_email_pattern",
            "app_id",
            "email",
            postgresql_ops={"email": "text_pattern_ops"},
        ),
    )

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(50))
    last_name: Mapped[str | None] = mapped_column(String(50))
    custom_attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    phone_numbers: Mapped[list[str]] = mapped_column(default=list)
    last_seen_at: Mapped[datetime | None] = mapped_column()
    last_notified_at: Mapped[datetime | None] = mapped_column()

    @property
    def identity(self) -> str:
        return identity_of(self.external_id, self.email, self.id)


def identity_of(external_id: str | None, email: str | None, user_id: str) -> str:
    """How the app names a user: its external id, else its email."""
    return external_id or email or user_id
