"""Every model, imported in one place so that metadata (and Alembic) sees the whole schema."""

from app.orm import Base
from app.push.models import PushSubscription
from app.tenants.models import App, SecretKey
from app.users.models import User
from templates_store.models import Template, TemplateVersion

__all__ = ["App", "Base", "PushSubscription", "SecretKey", "Template", "TemplateVersion", "User"]
