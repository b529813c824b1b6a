"""Handshakes' `last_seen_at` writes: each learns its own user, concurrent ones share a statement.

Both engines, real threads."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import select, update

from app.runtime import Runtime
from app.users.last_seen import LastSeenWriter, UserName
from app.users.models import User
from app.users.service import find_or_create_user
from tests.support.factories import Tenant
from tests.support.recipients import counting_statements
from tests.support.sinks import wait_until

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _user(runtime: Runtime, app_id: str, external_id: str, email: str | None = None) -> str:
    with runtime.database.transaction() as session:
        user = find_or_create_user(session=session, app_id=app_id, external_id=external_id)
        user.email = email
        user.last_seen_at = LONG_AGO
        session.flush()
        return user.id


def _seen_recently(runtime: Runtime, user_id: str) -> bool:
    with runtime.database.session() as session:
        seen = session.scalar(select(User.last_seen_at).where(User.id == user_id))
    assert seen is not None
    return seen.replace(tzinfo=UTC) > LONG_AGO


def test_a_touch_returns_the_named_users_id_and_moves_last_seen(runtime: Runtime, tenant: Tenant):
    by_id = _user(runtime, tenant.app_id, "u-1")
    by_email = _user(runtime, tenant.app_id, "u-2", email="ada@example.com")
    writer = LastSeenWriter(runtime.database)

    found = (
        writer.touch(app_id=tenant.app_id, external_id="u-1", email=None),
        writer.touch(app_id=tenant.app_id, external_id=None, email="ada@example.com"),
    )

    assert found == (by_id, by_email)
    assert _seen_recently(runtime, by_id) and _seen_recently(runtime, by_email)


def test_an_unknown_user_is_none_and_nothing_is_created(runtime: Runtime, tenant: Tenant):
    writer = LastSeenWriter(runtime.database)

    found = writer.touch(app_id=tenant.app_id, external_id="nobody", email=None)

    assert found is None
    with runtime.database.session() as session:
        assert session.scalar(select(User.id).where(User.app_id == tenant.app_id)) is None


def test_a_user_is_found_in_its_own_app_only(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    ours = _user(runtime, tenant.app_id, "same-name")
    theirs = _user(runtime, other_tenant.app_id, "same-name")
    writer = LastSeenWriter(runtime.database)

    found = [
        writer.touch(app_id=tenant.app_id, external_id="same-name", email=None),
        writer.touch(app_id=other_tenant.app_id, external_id="same-name", email=None),
    ]

    assert found == [ours, theirs]


def test_concurrent_touches_share_one_statement_and_each_gets_its_own_user(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    names = [(tenant.app_id, f"u-{n}") for n in range(5)] + [(other_tenant.app_id, "u-0")]
    expected = [_user(runtime, app_id, name) for app_id, name in names]
    writer = LastSeenWriter(runtime.database)
    real_write = writer._batches._flush
    batches: list[int] = []

    def first_waits_for_the_rest(items: Sequence[UserName]) -> list[str | None]:
        batches.append(len(items))
        if len(batches) == 1:
            wait_until(lambda: len(writer._batches._pending) == len(names) - 1)
        return real_write(items)

    writer._batches._flush = first_waits_for_the_rest
    with (
        counting_statements(runtime.database.engine) as statements,
        ThreadPoolExecutor(len(names)) as pool,
    ):
        first = pool.submit(writer.touch, app_id=names[0][0], external_id=names[0][1], email=None)
        wait_until(lambda: batches == [1])
        rest = [
            pool.submit(writer.touch, app_id=app_id, external_id=name, email=None)
            for app_id, name in names[1:]
        ]
        found = [first.result(timeout=30)] + [future.result(timeout=30) for future in rest]

    assert found == expected
    assert batches == [1, len(names) - 1]
    assert sum(s.lstrip().upper().startswith("UPDATE USERS") for s in statements) == 2
    assert all(_seen_recently(runtime, user_id) for user_id in expected)


def test_touches_leave_other_users_alone(runtime: Runtime, tenant: Tenant):
    touched = _user(runtime, tenant.app_id, "u-1")
    untouched = _user(runtime, tenant.app_id, "u-2")
    with runtime.database.transaction() as session:
        session.execute(update(User).values(last_seen_at=LONG_AGO))

    LastSeenWriter(runtime.database).touch(app_id=tenant.app_id, external_id="u-1", email=None)

    assert _seen_recently(runtime, touched) and not _seen_recently(runtime, untouched)
