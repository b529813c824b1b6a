"""The credential cache's tests: the generation Redis holds, which every process's cache checks
its entries against, and the user the tests change."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.runtime import Runtime
from app.users import service as users
from app.users.models import User
from tests.support.factories import Tenant


def current_generation(runtime: Runtime) -> bytes | None:
    """The generation Redis holds now; None once Redis has lost it."""
    return runtime.redis.get(runtime.key("auth", "generation"))


def new_user(session: Session, tenant: Tenant) -> User:
    """The app's user u-1, created if it is new."""
    return users.find_or_create_user(session=session, app_id=tenant.app_id, external_id="u-1")
