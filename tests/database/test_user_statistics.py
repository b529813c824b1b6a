"""Planner statistics for `users` are refreshed after users are created in bulk (PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.runtime import Runtime
from app.users import statistics
from app.users.targets import Target, resolve_users
from tests.support.factories import Tenant
from tests.support.realtime import runtime_for
from tests.support.recipients import counting_statements


def _create_users(runtime: Runtime, tenant: Tenant, count: int, prefix: str = "u") -> None:
    with runtime.database.transaction() as session:
        targets = [Target(external_id=f"{prefix}-{n}") for n in range(count)]
        resolve_users(session, app_id=tenant.app_id, targets=targets)


def _analyzed(statements: list[str]) -> int:
    return sum(statement.startswith("ANALYZE users") for statement in statements)


def test_a_bulk_creation_analyzes_users_on_postgresql_only(runtime: Runtime, tenant: Tenant):
    with counting_statements(runtime.database.engine) as statements:
        _create_users(runtime, tenant, statistics.BULK)

    assert _analyzed(statements) == (0 if runtime.database.is_sqlite else 1)


def test_a_few_new_users_do_not_analyze(runtime: Runtime, tenant: Tenant):
    with counting_statements(runtime.database.engine) as statements:
        _create_users(runtime, tenant, statistics.BULK - 1)

    assert _analyzed(statements) == 0


def test_a_rolled_back_bulk_creation_is_not_counted_by_the_next_commit(
    runtime: Runtime, tenant: Tenant
):
    with pytest.raises(RuntimeError), runtime.database.transaction() as session:
        targets = [Target(external_id=f"gone-{n}") for n in range(statistics.BULK)]
        resolve_users(session, app_id=tenant.app_id, targets=targets)
        raise RuntimeError("abort")

    with counting_statements(runtime.database.engine) as statements:
        _create_users(runtime, tenant, 1)

    assert _analyzed(statements) == 0


def test_an_apps_bulk_creations_analyze_at_most_once_per_interval(runtime: Runtime, tenant: Tenant):
    _create_users(runtime, tenant, statistics.BULK, prefix="first")

    with counting_statements(runtime.database.engine) as statements:
        _create_users(runtime, tenant, statistics.BULK, prefix="second")

    assert _analyzed(statements) == 0


def test_another_apps_bulk_creation_analyzes_within_the_interval(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    _create_users(runtime, tenant, statistics.BULK)

    with counting_statements(runtime.database.engine) as statements:
        _create_users(runtime, other_tenant, statistics.BULK)

    assert _analyzed(statements) == (0 if runtime.database.is_sqlite else 1)


@pytest.mark.parametrize("engine_name", ["postgresql"])  # SQLite keeps no planner statistics
def test_processes_sharing_redis_analyze_once_per_interval_between_them(
    tenant: Tenant, database_url: str
):
    first, second = runtime_for(database_url), runtime_for(database_url)
    try:
        with (
            counting_statements(first.database.engine) as by_first,
            counting_statements(second.database.engine) as by_second,
        ):
            _create_users(first, tenant, statistics.BULK, prefix="first")
            _create_users(second, tenant, statistics.BULK, prefix="second")
    finally:
        first.redis.delete(first.key("users", "analyzed", tenant.app_id))
        first.close()
        second.close()

    assert (_analyzed(by_first), _analyzed(by_second)) == (1, 0)


@pytest.mark.parametrize("engine_name", ["postgresql"])  # SQLite keeps no planner statistics
def test_after_a_bulk_creation_postgresql_finds_a_user_by_the_unique_index(
    runtime: Runtime, tenant: Tenant
):
    _create_users(runtime, tenant, 2000)

    with runtime.database.transaction() as session:
        plan = session.scalars(
            text("EXPLAIN SELECT id FROM users WHERE app_id = :app_id AND external_id = :id"),
            {"app_id": tenant.app_id, "id": "u-1234"},
        ).all()

    assert "external_id" in plan[0] and "created_at" not in plan[0], plan
