"""An app's allow-list: which email recipients its sends may reach."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, TimestampMixin


class AllowList(Base, TimestampMixin):
    __tablename__ = "allow_lists"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Stored in IDNA (punycode) form, lower case: "example.com", "*.example.org".
    domains: Mapped[list[str]] = mapped_column(default=list)
    emails: Mapped[list[str]] = mapped_column(default=list)
    allow_registered_users: Mapped[bool] = mapped_column(Boolean, default=False)
