"""What a process keeps for sending, built once by its runtime: the SMTP sender (a connection
per thread), each app's sending identity, and the email content of literal notifications."""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from redis import Redis, RedisError
from sqlalchemy import select

from app.db import Database
from app.engine.channels.dkim import DkimSigner
from app.engine.channels.email import SmtpConfig, SmtpSender, format_sender
from app.engine.models import Notification
from app.push.providers import ApnsCredentials, apns_credentials, fcm_service_account
from app.security import Encryptor
from app.tenants.models import App
from app.tenants.service import dkim_private_key, vapid_private_key
from templates_store.cache import BoundedCache

IDENTITY_TTL_S = 30.0  # the bound on staleness when Redis missed an app's change
# How often a process asks whether an app changed: a change reaches its senders within this.
APP_CHANGES_CHECK_S = 0.5
# Each may hold megabytes; a worker is rarely sending more literal notifications at once.
SHARED_EMAILS_KEPT = 16


@dataclass(frozen=True)
class SendingIdentity:
    """What an app's deliveries are sent as: its From address, its DKIM key, its VAPID key, its
    mobile push credentials (FCM service account, APNs key; None: not configured) and its share
    of the relay (emails per second, None: unlimited), as of `generation` of the apps' settings."""

    sender: str
    vapid_private_key: str
    dkim: DkimSigner | None
    loaded_at: float
    generation: bytes | None = None
    email_per_second: int | None = None
    fcm_account: dict[str, Any] | None = None
    apns: ApnsCredentials | None = None


class AppChanges:
    """The credentials' generation in Redis, which `app.tenants.invalidation` replaces after
    each commit that changed an app (or a key, or a user's identity); read at most once per
    `check_every_s`."""

    def __init__(
        self, redis: Redis, key: str, *, check_every_s: float = APP_CHANGES_CHECK_S
    ) -> None:
        self._redis = redis
        self._key = key
        self._check_every_s = check_every_s
        self._generation: bytes | None = None
        self._read_at = float("-inf")

    def generation(self) -> bytes | None:
        """The latest generation read; the last one known while Redis cannot be read."""
        now = time.monotonic()
        if now - self._read_at >= self._check_every_s:
            with suppress(RedisError):  # identities then expire after IDENTITY_TTL_S
                self._generation = self._redis.get(self._key)
            self._read_at = now
        return self._generation


class Senders:
    def __init__(
        self,
        *,
        database: Database,
        encryptor: Encryptor,
        smtp_url: str,
        default_sender: str,
        app_changes: AppChanges | None = None,
    ) -> None:
        self.smtp = SmtpSender(SmtpConfig.from_url(smtp_url))
        self._database = database
        self._encryptor = encryptor
        self._default_sender = default_sender
        self._app_changes = app_changes
        self._identities: dict[str, SendingIdentity] = {}
        self._shared_emails: BoundedCache[dict[str, Any]] = BoundedCache(SHARED_EMAILS_KEPT)

    def identity(self, app_id: str) -> SendingIdentity:
        """Per app, kept until the app changes (a batch would otherwise read it per send), its
        keys decrypted once."""
        generation = self._app_changes.generation() if self._app_changes else None
        cached = self._identities.get(app_id)
        if (
            cached is not None
            and cached.generation == generation
            and time.monotonic() - cached.loaded_at < IDENTITY_TTL_S
        ):
            return cached
        with self._database.transaction() as session:
            app = session.get(App, app_id)
            if app is None:
                raise LookupError(f"app {app_id} no longer exists")
            identity = SendingIdentity(
                sender=(
                    format_sender(app.sender_email, app.sender_name)
                    if app.sender_email
                    else self._default_sender
                ),
                vapid_private_key=vapid_private_key(app=app, encryptor=self._encryptor),
                dkim=self._dkim_signer(app),
                loaded_at=time.monotonic(),
                generation=generation,
                email_per_second=app.email_per_second,
                fcm_account=fcm_service_account(app, self._encryptor),
                apns=apns_credentials(app, self._encryptor),
            )
        self._identities[app_id] = identity
        return identity

    def _dkim_signer(self, app: App) -> DkimSigner | None:
        private_key = dkim_private_key(app=app, encryptor=self._encryptor)
        if app.dkim is None or private_key is None:
            return None
        return DkimSigner(app.dkim["domain"], app.dkim["selector"], private_key.encode())

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
