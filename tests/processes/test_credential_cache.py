"""The per-process credential cache: changes made by another process apply at once, and calls
it answers ask Redis and the database no more than they must. What advances the generation its
entries are checked against is specified in test_credential_generation.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flask.testing import FlaskClient
from sqlalchemy import event, select, update

from app.runtime import Runtime
from app.security import hash_secret
from app.tenants import service as tenants
from app.tenants.credentials import USER_TTL_S, CredentialCache, new_generation
from app.users import service as users
from app.users.models import User
from tests.support.credentials import current_generation, new_user
from tests.support.factories import Tenant, make_key, make_tenant
from tests.support.processes import RunningProcess
from tests.support.realtime import Sockets, call, handshake_refusal, socket_url

TO_NOBODY = {"to": [{"type": "user", "id": "nobody"}], "message": "hi"}
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def _last_seen(runtime: Runtime, tenant: Tenant, external_id: str) -> datetime | None:
    with runtime.database.session() as session:
        query = select(User.last_seen_at).where(
            User.app_id == tenant.app_id, User.external_id == external_id
        )
        seen = session.scalar(query)
    return seen.replace(tzinfo=UTC) if seen is not None and seen.tzinfo is None else seen


def test_a_key_revoked_by_another_process_is_refused_on_the_next_call(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime
):
    secret = make_key(pg_runtime, acme, ["send_notifications"])
    keyed = replace(acme, secret=secret)
    for _ in range(2):  # the first call learns the generation, the second fills the cache
        assert call(web.base_url, "POST", "/send", keyed.headers(), TO_NOBODY)[0] == 200
    with pg_runtime.database.transaction() as session:
        key = tenants.find_active_key(session=session, secret=secret)
        assert key is not None
        tenants.revoke_secret_key(session=session, app_id=acme.app_id, key_id=key.id)

    status, body = call(web.base_url, "POST", "/send", keyed.headers(), TO_NOBODY)

    assert (status, body["errors"][0]["code"]) == (401, "api_secret_is_incorrect")


def test_a_rotated_primary_secret_changes_the_hmac_sockets_need_at_once(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    clients.connect(web.base_url, acme, "u-1")
    with pg_runtime.database.transaction() as session:
        issued = tenants.rotate_primary_secret(
            session=session, app_id=acme.app_id, encryptor=pg_runtime.encryptor
        )
        new_secret = issued.secret

    status, _ = handshake_refusal(socket_url(web.base_url, acme, "u-1"))
    clients.connect(web.base_url, replace(acme, secret=new_secret), "u-1")
    assert status == 401
    assert call(web.base_url, "POST", "/send", acme.headers(), TO_NOBODY)[0] == 401


def test_turning_hmac_on_applies_to_the_next_handshake(
    web: RunningProcess, pg_runtime: Runtime, clients: Sockets
):
    relaxed = make_tenant(pg_runtime, "relaxed", hmac_required=False)
    clients.connect(web.base_url, relaxed, "u-1", user_hmac=None)
    with pg_runtime.database.transaction() as session:
        tenants.get_tenant(session=session, app_id=relaxed.app_id).hmac_required = True

    status, _ = handshake_refusal(socket_url(web.base_url, relaxed, "u-1", user_hmac=None))

    assert status == 401


def test_a_handshake_writes_last_seen_at_most_once_a_minute_per_process(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    clients.connect(web.base_url, acme, "u-1")
    assert _last_seen(pg_runtime, acme, "u-1") is not None
    with pg_runtime.database.transaction() as session:
        seen_long_ago = update(User).values(last_seen_at=LONG_AGO)
        session.execute(seen_long_ago.where(User.app_id == acme.app_id))

    clients.connect(web.base_url, acme, "u-1")

    assert _last_seen(pg_runtime, acme, "u-1") == LONG_AGO


def test_a_deleted_user_is_created_again_by_its_next_handshake(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    clients.connect(web.base_url, acme, "u-1")
    with pg_runtime.database.transaction() as session:
        users.delete_user(session=session, app_id=acme.app_id, user_ref="external_id:u-1")

    clients.connect(web.base_url, acme, "u-1")

    assert _last_seen(pg_runtime, acme, "u-1") is not None


def test_a_send_follows_an_external_id_renamed_by_another_process(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    clients.connect(web.base_url, acme, "u-1")  # the web process now knows u-1's user id
    to_u1 = {"to": [{"type": "user", "id": "u-1"}], "message": "hi"}
    assert call(web.base_url, "POST", "/send", acme.headers(), to_u1)[1]["delivered"] == 1
    with pg_runtime.database.transaction() as session:
        user = users.find_user(session=session, app_id=acme.app_id, external_id="u-1")
        assert user is not None
        user.external_id = "u-2"

    to_u2 = {"to": [{"type": "user", "id": "u-2"}], "message": "hi"}
    assert call(web.base_url, "POST", "/send", acme.headers(), to_u1)[1]["delivered"] == 0
    assert call(web.base_url, "POST", "/send", acme.headers(), to_u2)[1]["delivered"] == 1


def test_a_send_to_a_user_deleted_by_another_process_reaches_nobody(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    clients.connect(web.base_url, acme, "u-1")
    to_u1 = {"to": [{"type": "user", "id": "u-1"}], "message": "hi"}
    assert call(web.base_url, "POST", "/send", acme.headers(), to_u1)[1]["delivered"] == 1
    with pg_runtime.database.transaction() as session:
        users.delete_user(session=session, app_id=acme.app_id, user_ref="external_id:u-1")

    _, body = call(web.base_url, "POST", "/send", acme.headers(), to_u1)

    assert body["delivered"] == 0


# The tests below use the in-process `runtime`, whose teardown empties this session's Redis
# keys, the module's web process's presence among them: they come after its tests.


def test_a_handshake_writes_last_seen_again_once_its_minute_is_over(
    runtime: Runtime, tenant: Tenant
):
    now = [1000.0]
    cache = CredentialCache(runtime.redis, runtime.key("auth", "generation"), lambda: now[0])
    with runtime.database.transaction() as session:
        new_user(session, tenant)

    def handshake_after(seconds: float) -> datetime | None:
        with runtime.database.transaction() as session:
            seen_long_ago = update(User).values(last_seen_at=LONG_AGO)
            session.execute(seen_long_ago.where(User.app_id == tenant.app_id))
        now[0] += seconds
        cache.view().handshake_user(
            runtime.last_seen, app_id=tenant.app_id, external_id="u-1", email=None
        )
        return _last_seen(runtime, tenant, "u-1")

    assert handshake_after(0) != LONG_AGO
    assert handshake_after(USER_TTL_S - 1) == LONG_AGO
    assert handshake_after(2) != LONG_AGO


def test_cached_keys_and_apps_stay_with_their_own_app(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    credentials = runtime.credentials.view()
    with runtime.database.session() as session:
        assert credentials.find_key(session, tenant.secret) is not None
        key = credentials.find_key(session, other_tenant.secret)
        app = credentials.find_app(session, api_key=other_tenant.api_key)
    assert key is not None and key.app_id == other_tenant.app_id
    assert app is not None and app.id == other_tenant.app_id


def _redis_commands(runtime: Runtime, monkeypatch) -> list[str]:
    """The commands this process sends Redis from now on, by name."""
    sent: list[str] = []
    execute = runtime.redis.execute_command

    def counting(*args, **options):
        sent.append(str(args[0]))
        return execute(*args, **options)

    monkeypatch.setattr(runtime.redis, "execute_command", counting)
    return sent


def test_a_server_call_answered_from_the_cache_costs_one_redis_round_trip(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, monkeypatch
):
    assert client.get("/broadcasts", headers=tenant.headers()).status_code == 200
    sent = _redis_commands(runtime, monkeypatch)

    response = client.get("/broadcasts", headers=tenant.headers())

    assert response.status_code == 200
    assert sent == ["EVALSHA"]  # the generation's confirmation and the budget, together


def test_a_refusal_answered_by_an_outdated_cache_is_checked_again(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    assert client.get("/broadcasts", headers=tenant.headers()).status_code == 200
    generation = runtime.redis.get(runtime.key("auth", "generation"))
    # What this process would hold had another process changed the API key's app since.
    runtime.credentials.put("api_key", tenant.api_key, other_tenant.app_id, generation)
    runtime.redis.set(runtime.key("auth", "generation"), new_generation())

    response = client.get("/broadcasts", headers=tenant.headers())

    assert response.status_code == 200
    assert response.headers["X-RateLimit-Remaining"] == "98"  # the retry spent nothing more


def test_an_acceptance_by_an_outdated_cache_is_undone_before_any_work(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    for _ in range(2):  # the first call learns the generation, the second fills the cache
        assert client.get("/broadcasts", headers=other_tenant.headers()).status_code == 200
    generation = runtime.redis.get(runtime.key("auth", "generation"))
    assert runtime.credentials.get("key", hash_secret(other_tenant.secret), generation)
    # The cache still maps the other app's key to its secret; the database no longer does.
    with runtime.database.transaction() as session:
        key = tenants.find_active_key(session=session, secret=other_tenant.secret)
        assert key is not None
        tenants.revoke_secret_key(session=session, app_id=other_tenant.app_id, key_id=key.id)
    runtime.credentials.adopt(generation)  # as if this process had not seen the change yet
    assert runtime.credentials.last_known().generation == generation

    response = client.get("/broadcasts", headers=other_tenant.headers())

    assert response.status_code == 401
    assert response.get_json()["errors"][0]["code"] == "api_secret_is_incorrect"


def test_a_send_to_users_the_process_knows_asks_the_database_nothing(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    with runtime.database.transaction() as session:
        new_user(session, tenant)
    to_u1 = {"to": [{"type": "user", "id": "u-1"}], "message": "hi"}
    for _ in range(2):  # the first call learns the generation, the second fills the cache
        assert client.post("/send", json=to_u1, headers=tenant.headers()).status_code == 200
    statements: list[str] = []
    record = lambda *args: statements.append(args[2])  # noqa: E731 (conn, cursor, statement, ...)
    engines = {runtime.database.engine, runtime.database._autocommit_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.post("/send", json=to_u1, headers=tenant.headers())
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)

    assert response.status_code == 200
    assert statements == []


def test_a_server_call_starts_a_generation_redis_lost(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    for _ in range(2):  # the first call learns the generation, the second fills the cache
        assert client.get("/broadcasts", headers=tenant.headers()).status_code == 200
    held = current_generation(runtime)
    runtime.redis.delete(runtime.key("auth", "generation"))  # Redis restarted without its data

    response = client.get("/broadcasts", headers=tenant.headers())

    assert response.status_code == 200
    assert current_generation(runtime) not in (None, held)
    assert runtime.credentials.last_known().generation == current_generation(runtime)
