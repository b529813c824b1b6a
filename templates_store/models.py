"""A template is a stable key; its content lives in numbered, immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from templates_store.orm import Base, IdMixin, TimestampMixin

CHANNEL_ORDER = ("in_app", "email", "push")
STATUSES = ("draft", "pending", "approved", "rejected")
MAX_VERSION = 2**31 - 1  # the range of the `version` column (a 32-bit integer)


class Template(Base, IdMixin, TimestampMixin):
    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("app_id", "key"),)

    # The (app_id, key) unique constraint doubles as the app_id index.
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    # The highest approved version number: what a send uses.
    approved_version: Mapped[int | None] = mapped_column(Integer)
    archived_at: Mapped[datetime | None] = mapped_column()
    archived_by: Mapped[str | None] = mapped_column(String(64))

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TemplateVersion.version",
    )

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class TemplateVersion(Base, IdMixin, TimestampMixin):
    """One saved state of a template; its content never changes, only its review status."""

    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    # The (template_id, version) unique constraint doubles as the template_id index.
    template_id: Mapped[str] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    channels: Mapped[dict[str, Any]] = mapped_column()
    variable_schema: Mapped[dict[str, Any]] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(64))
    submitted_by: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column()
    reviewed_by: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    rejection_reason: Mapped[str | None] = mapped_column(Text)

    template: Mapped[Template] = relationship(back_populates="versions")

    @property
    def channel_names(self) -> list[str]:
        """The channels this version has content for, in the order in_app, email, push."""
        return [name for name in CHANNEL_ORDER if name in self.channels]

    @property
    def cache_key(self) -> tuple[str, int]:
        return (self.template_id, self.version)
