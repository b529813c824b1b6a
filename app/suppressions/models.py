"""An address an app no longer emails, and why."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdMixin, TimestampMixin


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"  # the relay said the address does not exist
    UNSUBSCRIBED = "unsubscribed"  # the recipient unsubscribed from all of the app's email
    MANUAL = "manual"  # an operator added it


class Suppression(Base, IdMixin, TimestampMixin):
    __tablename__ = "suppressions"
    # The (app_id, email) unique constraint doubles as the app_id index.
    __table_args__ = (UniqueConstraint("app_id", "email"),)

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(32))
