"""What a process keeps for sending, built once by its runtime: the SMTP sender (a connection
per thread), each app's sending identity, and the email content of literal notifications."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.db import Database
from app.engine.channels.email import SmtpConfig, SmtpSender, format_sender
from app.engine.models import Notification
from app.security import Encryptor
from app.tenants.models import App
from app.tenants.service import vapid_private_key
from templates_store.cache import BoundedCache

IDENTITY_TTL_S = 30.0
# Each may hold megabytes; a worker is rarely sending more literal notifications at once.
SHARED_EMAILS_KEPT = 16


@dataclass(frozen=True)
class SendingIdentity:
    """What an app's deliveries are sent as: its From address and its VAPID key."""

    sender: str
    vapid_private_key: str
    loaded_at: float


class Senders:
    def __init__(
        self, *, database: Database, encryptor: Encryptor, smtp_url: str, default_sender: str
    ) -> None:
        self.smtp = SmtpSender(SmtpConfig.from_url(smtp_url))
        self._database = database
        self._encryptor = encryptor
        self._default_sender = default_sender
        self._identities: dict[str, SendingIdentity] = {}
        self._shared_emails: BoundedCache[dict[str, Any]] = BoundedCache(SHARED_EMAILS_KEPT)

    def identity(self, app_id: str) -> SendingIdentity:
        """Per app, kept for a few seconds: a batch would otherwise read the app per send."""
        cached = self._identities.get(app_id)
        if cached is not None and time.monotonic() - cached.loaded_at < IDENTITY_TTL_S:
            return cached
        with self._database.transaction() as session:
            app = session.get(App, app_id)
            if app is None:
                raise LookupError(f"app {app_id} no longer exists")
            sender = (
                format_sender(app.sender_email, app.sender_name)
                if app.sender_email
                else self._default_sender
            )
            private_key = vapid_private_key(app=app, encryptor=self._encryptor)
        identity = SendingIdentity(sender, private_key, time.monotonic())
        self._identities[app_id] = identity
        return identity

    def shared_email(self, notification_id: str) -> dict[str, Any]:
        """A literal notification's email content, read once per process (it never changes)."""

        def load() -> dict[str, Any]:
            with self._database.transaction() as session:
                email = session.scalar(
                    select(Notification.content["email"]).where(Notification.id == notification_id)
                )
            return dict(email or {})

        return self._shared_emails.get_or_build(notification_id, load)

    def close_thread_connections(self) -> None:
        """Close this thread's SMTP connection (a worker thread is shutting down)."""
        self.smtp.close()
