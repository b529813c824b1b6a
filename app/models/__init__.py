"""Every model, imported in one place so that metadata (and Alembic) sees the whole schema."""

from app.groups.models import Group, GroupMember
from app.orm import Base
from app.push.models import PushSubscription
from app.tenants.models import App, SecretKey
from app.users.models import User

__all__ = ["App", "Base", "Group", "GroupMember", "PushSubscription", "SecretKey", "User"]
