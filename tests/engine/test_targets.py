"""Resolving send targets to users in bulk, also when another process creates them at once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from app.runtime import Runtime
from app.users.models import User
from app.users.service import find_or_create_user, match_names
from app.users.targets import Target, resolve_users
from tests.support.factories import Tenant


def test_targets_resolve_to_existing_and_new_users_in_order(runtime: Runtime, tenant: Tenant):
    with runtime.database.transaction() as session:
        known = find_or_create_user(session=session, app_id=tenant.app_id, external_id="known")
        known_id = known.id

    with runtime.database.transaction() as session:
        users = resolve_users(
            session,
            app_id=tenant.app_id,
            targets=[
                Target(external_id="new", email="new@example.com"),
                Target(external_id="known"),
            ],
        )
        resolved = [(u.external_id, u.email, u.id == known_id) for u in users]

    assert resolved == [("new", "new@example.com", False), ("known", None, True)]


# SQLite lets one writer in at a time, so only PostgreSQL can interleave another process here.
@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_a_user_created_concurrently_is_found_instead_of_failing(runtime: Runtime, tenant: Tenant):
    flushes = []

    def another_process_creates_the_user_first(session, flush_context, instances):  # type: ignore[no-untyped-def]
        flushes.append(1)
        if len(flushes) == 1:
            # After our lookup found nobody, before our insert: another process commits.
            with runtime.database.transaction() as other:
                find_or_create_user(session=other, app_id=tenant.app_id, external_id="raced")

    with runtime.database.transaction() as session:
        event.listen(session, "before_flush", another_process_creates_the_user_first)
        [user] = resolve_users(session, app_id=tenant.app_id, targets=[Target(external_id="raced")])
        external_id, user_id = user.external_id, user.id
    with runtime.database.transaction() as session:
        stored = session.scalars(
            select(User.id).where(User.app_id == tenant.app_id, User.external_id == "raced")
        ).all()

    assert external_id == "raced"
    assert stored == [user_id]


def test_a_name_means_the_user_with_that_external_id_before_one_with_that_email():
    owner = SimpleNamespace(external_id="ann@example.com", email=None)
    other = SimpleNamespace(external_id="u-2", email="ann@example.com")
    by_email = SimpleNamespace(external_id="u-3", email="bob@example.com")

    matched = match_names(
        ["ann@example.com", "bob@example.com", "nobody"], [other, owner, by_email]
    )

    assert matched == {"ann@example.com": owner, "bob@example.com": by_email}
