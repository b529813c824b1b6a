"""Every model, imported in one place so that metadata (and Alembic) sees the whole schema."""

from app.allowlist.models import AllowList
from app.engine.models import Delivery, Notification, NotificationChunk
from app.groups.models import Group, GroupMember
from app.idempotency.models import IdempotencyRecord
from app.imports.models import Import, ImportChunk, ImportFailure
from app.inbox.models import InboxNotification
from app.orm import Base
from app.preferences.models import NotificationPreference
from app.push.models import PushSubscription
from app.suppressions.models import Suppression
from app.tenants.models import App, SecretKey
from app.topics.models import TopicSubscription, TopicSubscriptionCategory
from app.users.models import User
from app.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent, WebhookMessage
from templates_store.models import Template, TemplateVersion

__all__ = [
    "AllowList",
    "App",
    "Base",
    "Delivery",
    "Group",
    "GroupMember",
    "IdempotencyRecord",
    "Import",
    "ImportChunk",
    "ImportFailure",
    "InboxNotification",
    "Notification",
    "NotificationChunk",
    "NotificationPreference",
    "PushSubscription",
    "SecretKey",
    "Suppression",
    "Template",
    "TemplateVersion",
    "TopicSubscription",
    "TopicSubscriptionCategory",
    "User",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookMessage",
]
