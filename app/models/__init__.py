"""Every model, imported in one place so that metadata (and Alembic) sees the whole schema."""

from app.imports.models import Import, ImportChunk, ImportFailure
from app.orm import Base
from app.preferences.models import NotificationPreference
from app.push.models import PushSubscription
from app.tenants.models import App, SecretKey
from app.topics.models import TopicSubscription, TopicSubscriptionCategory
from app.users.models import User
from templates_store.models import Template, TemplateVersion

__all__ = [
    "App",
    "Base",
    "Import",
    "ImportChunk",
    "ImportFailure",
    "NotificationPreference",
    "PushSubscription",
    "SecretKey",
    "Template",
    "TemplateVersion",
    "TopicSubscription",
    "TopicSubscriptionCategory",
    "User",
]
