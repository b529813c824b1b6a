"""Rate limits per app (per user for user calls), read and write budgets, counted in Redis."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient
from redis import Redis

from app import ratelimit
from app.ratelimit import spend
from app.runtime import Runtime
from tests.support.factories import Tenant, make_tenant

BROADCAST = {"broadcast": {"title": "Hi", "recipients": [{"external_id": "u1"}]}}


def limits(response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["X-RateLimit-Limit"]),
        int(headers["X-RateLimit-Remaining"]),
        int(headers["X-RateLimit-Reset"]),
    )


@pytest.fixture(autouse=True)
def mid_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call of a test falls in one window: 20 s into a minute, 40 s before it resets."""
    monkeypatch.setattr(ratelimit, "clock", lambda: 1_800_000_020.0)


@pytest.fixture
def strict(runtime: Runtime) -> Tenant:
    return make_tenant(
        runtime, "strict", rate_limit_read_per_minute=3, rate_limit_write_per_minute=2
    )


def test_a_new_app_has_the_seeds_budgets(client: FlaskClient, tenant: Tenant):
    read = client.get("/broadcasts", headers=tenant.headers())
    write = client.post("/broadcasts", json=BROADCAST, headers=tenant.headers())

    assert limits(read) == (100, 99, 40)
    assert limits(write) == (60, 59, 40)


def test_past_the_read_budget_calls_get_429_with_retry_after(client: FlaskClient, strict: Tenant):
    allowed = [client.get("/broadcasts", headers=strict.headers()) for _ in range(3)]
    refused = client.get("/broadcasts", headers=strict.headers())

    assert [r.status_code for r in allowed] == [200] * 3
    assert [limits(r)[1] for r in allowed] == [2, 1, 0]
    assert refused.status_code == 429
    assert refused.get_json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert limits(refused) == (3, 0, 40)
    assert refused.headers["Retry-After"] == "40"


def test_reads_and_writes_have_separate_budgets(client: FlaskClient, strict: Tenant):
    writes = [
        client.post("/broadcasts", json=BROADCAST, headers=strict.headers()) for _ in range(3)
    ]
    read = client.get("/broadcasts", headers=strict.headers())

    assert [w.status_code for w in writes] == [201, 201, 429]
    assert read.status_code == 200 and read.get_json()["total"] == 2


def test_refused_and_failed_calls_carry_the_headers_too(client: FlaskClient, strict: Tenant):
    invalid = client.post("/broadcasts", json={"broadcast": {}}, headers=strict.headers())
    missing = client.get("/broadcasts/nope", headers=strict.headers())

    assert invalid.status_code == 422 and limits(invalid)[:2] == (2, 1)
    assert missing.status_code == 404 and limits(missing)[:2] == (3, 2)


def test_each_app_has_its_own_budget(client: FlaskClient, strict: Tenant, tenant: Tenant):
    for _ in range(4):
        client.get("/broadcasts", headers=strict.headers())

    response = client.get("/broadcasts", headers=tenant.headers())

    assert response.status_code == 200 and limits(response)[1] == 99


def test_user_calls_spend_their_users_budget(client: FlaskClient, strict: Tenant):
    for _ in range(3):
        client.get("/notifications", headers=strict.user_headers("u1"))

    refused = client.get("/notifications", headers=strict.user_headers("u1"))
    neighbour = client.get("/notifications", headers=strict.user_headers("u2"))
    server = client.get("/broadcasts", headers=strict.headers())

    assert refused.status_code == 429
    assert neighbour.status_code == 200 and limits(neighbour)[1] == 2
    assert server.status_code == 200 and limits(server)[1] == 2


def test_unauthenticated_calls_and_health_checks_are_not_counted(
    client: FlaskClient, strict: Tenant
):
    wrong = client.get("/broadcasts", headers={**strict.headers(), "X-API-Secret": "wrong"})
    health = [client.get(path) for path in ("/healthz", "/openapi.json")]
    counted = client.get("/broadcasts", headers=strict.headers())

    assert wrong.status_code == 401 and "X-RateLimit-Limit" not in wrong.headers
    assert all(r.status_code == 200 and "X-RateLimit-Limit" not in r.headers for r in health)
    assert limits(counted)[1] == 2


def test_the_window_resets_on_the_minute(runtime: Runtime):
    bucket = runtime.key("ratelimit-test", "window")

    first = spend(runtime.redis, bucket=bucket, limit=2, now=120.5)
    second = spend(runtime.redis, bucket=bucket, limit=2, now=179.2)
    third = spend(runtime.redis, bucket=bucket, limit=2, now=179.9)
    next_minute = spend(runtime.redis, bucket=bucket, limit=2, now=180.0)

    assert [(b.used, b.reset_s, b.exceeded) for b in (first, second, third, next_minute)] == [
        (1, 60, False),
        (2, 1, False),
        (3, 1, True),
        (1, 60, False),
    ]
    assert 0 < runtime.redis.ttl(f"{bucket}:2") <= 120


def test_an_unreachable_redis_lets_calls_through(
    client: FlaskClient,
    runtime: Runtime,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    tenant_headers = tenant.headers()
    broken = Redis.from_url("redis://127.0.0.1:1/0")
    try:
        with monkeypatch.context() as patched, caplog.at_level(logging.WARNING, "app.ratelimit"):
            patched.setattr(runtime, "redis", broken)
            response = client.get("/broadcasts", headers=tenant_headers)
    finally:
        broken.close()

    assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers
    assert "rate limit not checked: Redis unreachable" in caplog.messages
