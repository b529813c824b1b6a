"""An app is the tenant: every other row Herald stores belongs to exactly one app."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.orm import Base, IdMixin, TimestampMixin, new_id, utcnow


class App(Base, TimestampMixin):
    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255))
    api_key: Mapped[str] = mapped_column(String(64), unique=True)
    hmac_required: Mapped[bool] = mapped_column(Boolean, default=True)
    sender_email: Mapped[str | None] = mapped_column(String(255))
    sender_name: Mapped[str | None] = mapped_column(String(255))
    realtime_target_limit: Mapped[int] = mapped_column(Integer, default=1)
    batch_target_limit: Mapped[int] = mapped_column(Integer, default=10_000)
    rate_limit_read_per_minute: Mapped[int] = mapped_column(Integer, default=100)
    rate_limit_write_per_minute: Mapped[int] = mapped_column(Integer, default=60)
    critical_categories: Mapped[list[str]] = mapped_column(default=list)
    # issuer/audience/jwksPath in clear; an HS256 secret only as "hs256SecretEncrypted".
    oauth2: Mapped[dict[str, Any] | None] = mapped_column()
    # DKIM signing: {"domain", "selector", "private_key_encrypted"}; None signs nothing.
    dkim: Mapped[dict[str, Any] | None] = mapped_column()
    # The app's share of the relay: emails per second across every worker (None: unlimited).
    email_per_second: Mapped[int | None] = mapped_column(Integer)
    # Mobile push providers (app/push/providers.py), None when not configured; key material only
    # encrypted. FCM: {"project_id", "client_email", "service_account_encrypted"}; APNs:
    # {"key_id", "team_id", "bundle_id", "environment", "private_key_encrypted"}.
    fcm: Mapped[dict[str, Any] | None] = mapped_column()
    apns: Mapped[dict[str, Any] | None] = mapped_column()
    vapid_public_key: Mapped[str] = mapped_column(String(128))
    vapid_private_key_encrypted: Mapped[str] = mapped_column(Text)

    secret_keys: Mapped[list[SecretKey]] = relationship(
        back_populates="app", cascade="all, delete-orphan", passive_deletes=True
    )


class SecretKey(Base, IdMixin):
    """A server credential. Only a hash is kept, plus the encrypted value for the primary key."""

    __tablename__ = "secret_keys"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    scopes: Mapped[list[str]] = mapped_column()
    owner_email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()

    app: Mapped[App] = relationship(back_populates="secret_keys")

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
