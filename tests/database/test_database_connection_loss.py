"""A request whose pooled database connection was cut (a restart, a failover, an administrator's
kill): a read is answered from a fresh connection, a write is refused with 503 and Retry-After."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from app.runtime import Runtime
from tests.support.factories import Tenant

pytestmark = pytest.mark.parametrize("engine_name", ["postgresql"])


@pytest.fixture
def cut_pooled_connections(runtime: Runtime) -> Iterator[Callable[[], int]]:
    """Terminates, server side, every connection waiting in the pool; returns how many. The
    pool is emptied afterwards: connections left dead in it would fail the next test."""
    yield lambda: _cut(runtime)
    runtime.database.engine.dispose()


def _cut(runtime: Runtime) -> int:
    engine = runtime.database.engine
    waiting = engine.pool.checkedin()  # type: ignore[attr-defined]
    connections = [engine.connect() for _ in range(waiting)]
    pids = [c.execute(text("SELECT pg_backend_pid()")).scalar_one() for c in connections]
    for connection in connections:
        connection.close()
    libpq = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:  # outside the pool
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return len(pids)


def test_a_read_on_a_cut_connection_is_answered_from_a_fresh_one(
    client: FlaskClient, tenant: Tenant, cut_pooled_connections: Callable[[], int]
):
    assert client.get("/api/apps/current", headers=tenant.headers()).status_code == 200
    assert cut_pooled_connections() > 0

    response = client.get("/api/apps/current", headers=tenant.headers())

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["appId"] == tenant.app_id


def test_a_write_on_a_cut_connection_is_refused_with_retry_after_and_changes_nothing(
    client: FlaskClient, tenant: Tenant, cut_pooled_connections: Callable[[], int]
):
    template = {"key": "welcome", "name": "Welcome", "channels": {"in_app": {"title": "Hi"}}}
    assert client.get("/api/apps/current", headers=tenant.headers()).status_code == 200
    assert cut_pooled_connections() > 0

    refused = client.post("/api/templates", json=template, headers=tenant.headers())
    retried = client.post("/api/templates", json=template, headers=tenant.headers())

    assert refused.status_code == 503, refused.get_json()
    assert refused.headers["Retry-After"].isdigit()
    assert refused.get_json()["errors"][0]["code"] == "ERR_SERVICE_UNAVAILABLE"
    assert retried.status_code == 201, retried.get_json()
