"""Announcing credential changes to every process's credential cache.

After each commit that changed an app, a secret key, a user's identity or a webhook endpoint,
the cache's generation in Redis is bumped (`app.tenants.credentials`), so every process reads
those rows afresh (webhook endpoints: `app.webhooks.outbox`). Row changes are noticed by mapper
events of those classes only, so the flushes of everything else (a batch's notifications,
deliveries) cost nothing extra.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import Redis, RedisError
from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, object_session, sessionmaker

from app.tenants.credentials import USER_TTL_S, new_generation
from app.tenants.models import App, SecretKey
from app.users.models import User
from app.webhooks.models import WebhookEndpoint

log = logging.getLogger(__name__)

_IDENTITY_COLUMNS = frozenset({"external_id", "email"})
_CHANGED = "herald_credentials_changed"


def install_invalidation(factory: sessionmaker[Session], redis: Redis, generation_key: str) -> None:
    """Bump the generation after each commit that changed an app, a key, a user's identity or
    a webhook endpoint.

    Row changes are noticed by mapper events of those classes only (see below), so the
    flushes of everything else (a batch's notifications, deliveries) cost nothing extra.
    """
    _note_credential_rows()

    @event.listens_for(factory, "do_orm_execute")
    def _note_bulk(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and _bulk_changes_credentials(state):
            state.session.info[_CHANGED] = True

    @event.listens_for(factory, "after_commit")
    def _bump(session: Session) -> None:
        # Releasing a savepoint fires this too, before other processes can see the change:
        # bumping then would let them cache the old rows under the new generation.
        if session.in_nested_transaction():
            return
        if session.info.pop(_CHANGED, False):
            try:
                redis.set(generation_key, new_generation())
            except RedisError:
                log.warning(
                    "credential change not announced; caches expire it within %d s",
                    USER_TTL_S,
                )


def _note_change(_mapper: Mapper[Any], _connection: Connection, target: object) -> None:
    session = object_session(target)
    if session is not None:
        session.info[_CHANGED] = True


def _note_user_update(mapper: Mapper[Any], connection: Connection, target: User) -> None:
    state = inspect(target)
    if any(state.attrs[name].history.has_changes() for name in _IDENTITY_COLUMNS):
        _note_change(mapper, connection, target)


def _note_credential_rows() -> None:
    """Mark the sessions whose flushes change credential rows: mapper events, which belong to
    the classes and so to the whole process; listened to once however many databases."""
    if event.contains(User, "after_update", _note_user_update):
        return
    for credential_class in (App, SecretKey, WebhookEndpoint):
        for when in ("after_insert", "after_update", "after_delete"):
            event.listen(credential_class, when, _note_change)
    event.listen(User, "after_delete", _note_change)
    event.listen(User, "after_update", _note_user_update)


_CREDENTIAL_TABLES = frozenset(
    {App.__tablename__, SecretKey.__tablename__, WebhookEndpoint.__tablename__}
)


def _bulk_changes_credentials(state: ORMExecuteState) -> bool:
    """Judged by the table written, so Core statements (`update(User.__table__)`) count too.

    An UPDATE of users counts when it writes an identity column, the rule the ORM events
    follow; one whose columns cannot be told counts too. A bulk import's other columns don't:
    every chunk would otherwise empty every process's cache.
    """
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table in _CREDENTIAL_TABLES:
        return True
    if table != User.__tablename__:
        return False
    if state.is_delete:
        return True
    params = state.parameters
    rows = params if isinstance(params, list) else [params or {}]
    # Statement-level `.values(...)` (e.g. `last_notified_at`) carry their columns here.
    values = getattr(state.statement, "_values", None) or {}
    # Parameters name columns (a bulk update by primary key) or bound values of the statement.
    columns = User.__table__.c
    named = {getattr(k, "key", k) for k in values} | {
        k for row in rows for k in row if k in columns
    }
    return not named or bool(named & _IDENTITY_COLUMNS)
