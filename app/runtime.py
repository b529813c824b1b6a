"""The per-process resources every layer needs: settings, database, Redis, the encryptor and the
senders, built once per process by `Runtime.from_settings` (see `app.composition`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from redis import Redis

from app.config import Settings
from app.db import Database
from app.engine.advancer import Advancer
from app.engine.channels.destinations import DestinationGuard, DestinationPolicy
from app.engine.channels.guarded_http import GuardedHttp
from app.engine.ledger import DeliveryLedger
from app.engine.push_dispatch import MobilePush
from app.engine.retry import RetryPolicy
from app.engine.senders import AppChanges, Senders
from app.engine.throttle import SendingRates
from app.security import Encryptor
from app.suppressions.links import UnsubscribeLinks
from app.tenants.credentials import CredentialCache, new_cache
from app.tenants.invalidation import install_invalidation
from app.users import statistics as user_statistics
from app.users.last_seen import LastSeenWriter
from app.webhooks.outbox import WebhookOutbox, install_outbox

# Replaced after each commit that changed an app, a secret key or a user's identity.
GENERATION_KEY = "auth:generation"


class LocalSockets(Protocol):
    """This process's WebSocket hub: a sender writes to it directly, not through Redis."""

    process_id: str

    def deliver(self, app_id: str, user_ids: list[str], frame: str) -> int: ...


@dataclass
class Runtime:
    settings: Settings
    database: Database
    redis: Redis
    encryptor: Encryptor
    # SMTP connections and sending identities of this process (`app.engine.senders`).
    senders: Senders
    # Verified credentials of this process (see app.tenants.credentials).
    credentials: CredentialCache = field(init=False)
    # Set while this process holds WebSockets (a web process's hub); None in workers.
    local_sockets: LocalSockets | None = field(default=None, init=False)
    # Web Push endpoints are chosen by end users: registered and pushed to through one guard.
    push_http: GuardedHttp = field(init=False)
    # Webhook endpoints are chosen by apps: checked when saved and at each send, by one guard
    # with a policy of their own (`webhook_policy`).
    webhook_http: GuardedHttp = field(init=False)
    # Where events for the apps' webhook endpoints are written (`app.webhooks.outbox`), which
    # `from_settings` has keep what it read until the apps change.
    webhook_outbox: WebhookOutbox = field(default_factory=WebhookOutbox)
    # When deliveries that failed for now are tried again (`app.engine.retry`), built with the
    # runtime so that a malformed RETRY_SCHEDULE stops a process as it starts.
    retry_policy: RetryPolicy = field(init=False)
    # The relay's and the apps' email rates, shared by every process through Redis (built with
    # the runtime too: a negative SMTP_MAX_PER_SECOND stops a process as it starts).
    sending_rates: SendingRates = field(init=False)

    def __post_init__(self) -> None:
        self.retry_policy = RetryPolicy.from_settings(self.settings)
        self.sending_rates = SendingRates.from_settings(self.settings, self.redis)
        self.push_http = GuardedHttp(DestinationGuard(web_push_policy(self.settings)))
        self.webhook_http = GuardedHttp(DestinationGuard(webhook_policy(self.settings)))
        generation_key = self.key(GENERATION_KEY)
        self.credentials = new_cache(self.redis, generation_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Build a process's resources from its settings, then have its database's commits
        heard (`listen_for_commits`): the one way every process gets its runtime."""
        database = Database(settings.database_url)
        encryptor = Encryptor(settings.secret_key)
        redis = Redis.from_url(settings.redis_url, health_check_interval=30)
        # Apps' changes are announced where credential changes are (listen_for_commits).
        app_changes = AppChanges(redis, settings.redis_prefix + GENERATION_KEY)
        runtime = cls(
            settings=settings,
            database=database,
            redis=redis,
            encryptor=encryptor,
            senders=Senders(
                database=database,
                encryptor=encryptor,
                smtp_url=settings.smtp_url,
                default_sender=settings.default_sender,
                app_changes=app_changes,
            ),
            webhook_outbox=WebhookOutbox(app_changes.generation),
        )
        listen_for_commits(runtime)
        return runtime

    @cached_property
    def deliveries(self) -> DeliveryLedger:
        """Delivery claims and outcomes, group-committed across this process's threads."""
        return DeliveryLedger(self.database, advancer=self.advancer, outbox=self.webhook_outbox)

    @cached_property
    def mobile_push(self) -> MobilePush:
        """FCM and APNs clients, shared by this process's threads (one APNs connection per
        host); token endpoints are reached through the Web Push guard (apps name them)."""
        return MobilePush.from_settings(self.settings, self.push_http)

    @cached_property
    def advancer(self) -> Advancer:
        """Moves notifications on once their chunks and deliveries commit (app.engine.advancer)."""
        return Advancer(self.database, outbox=self.webhook_outbox)

    @cached_property
    def unsubscribe_links(self) -> UnsubscribeLinks:
        """The one-click unsubscribe links emails carry, under PUBLIC_URL."""
        return UnsubscribeLinks.from_settings(self.settings)

    @cached_property
    def last_seen(self) -> LastSeenWriter:
        """WebSocket handshakes' `last_seen_at`, group-committed across this process."""
        return LastSeenWriter(self.database)

    def key(self, *parts: str) -> str:
        """A Redis key under this installation's prefix."""
        return self.settings.redis_prefix + ":".join(parts)

    def close(self) -> None:
        if "mobile_push" in self.__dict__:
            self.mobile_push.close()
        self.database.dispose()
        self.redis.close()


def listen_for_commits(runtime: Runtime) -> None:
    """After each commit on the runtime's database, announce credential changes to every
    process's credential cache and refresh `users` statistics after a bulk creation (listeners
    on its session factory: other databases of the process are not heard); its sessions write
    webhook events through the runtime's outbox."""
    install_invalidation(runtime.database.sessionmaker, runtime.redis, runtime.key(GENERATION_KEY))
    install_outbox(runtime.database.sessionmaker, runtime.webhook_outbox)
    user_statistics.install(runtime.database, runtime.redis, runtime.key("users", "analyzed", ""))


def web_push_policy(settings: Settings) -> DestinationPolicy:
    """Where end users' Web Push endpoints may lead (ValueError names a malformed setting)."""
    return DestinationPolicy.from_lists(
        ports=settings.webpush_allowed_ports,
        hosts=settings.webpush_allowed_hosts,
        allow_private=settings.webpush_allow_private,
    )


def webhook_policy(settings: Settings) -> DestinationPolicy:
    """Where apps' webhook endpoints may lead (ValueError names a malformed setting)."""
    return DestinationPolicy.from_lists(
        ports=settings.webhook_allowed_ports,
        allow_private=settings.webhook_allow_private,
        allow_loopback=settings.webhook_allow_loopback,
    )
