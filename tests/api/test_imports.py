"""Seed 002 imports: users upserted by a real worker in chunks; bad records fail alone."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.imports import service
from app.imports.models import ImportChunk
from app.runtime import Runtime
from app.users import statistics
from app.users.models import User
from tests.support.factories import Tenant, make_key
from tests.support.recipients import counting_statements, make_user

URL = "/imports"


def _wait_until_processed(client: FlaskClient, tenant: Tenant, import_id: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        body = client.get(f"{URL}/{import_id}", headers=tenant.headers()).get_json()["import"]
        if body["status"] == "processed" or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "import"),
        ({"import": {}}, "import.users"),
        ({"import": {"users": []}}, "import.users"),
        ({"import": {"users": {"email": "a@example.com"}}}, "import.users"),
        ({"users": [{"email": "a@example.com"}]}, "users"),
    ],
)
def test_malformed_imports_are_422(client: FlaskClient, tenant: Tenant, body, field):
    response = client.post(URL, json=body, headers=tenant.headers())

    assert response.status_code == 422
    assert field in [error["field"] for error in response.get_json()["errors"]]


def test_an_import_may_be_larger_than_other_request_bodies(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    over_default = runtime.settings.max_body_bytes + 1024
    user = {"external_id": "u-1", "custom_attributes": {"notes": "x" * over_default}}

    imported = client.post(URL, json={"import": {"users": [user]}}, headers=tenant.headers())
    created = client.post("/users", json={"user": user}, headers=tenant.headers())

    assert runtime.settings.max_import_body_bytes > over_default
    assert (imported.status_code, created.status_code) == (201, 413)


def test_imports_need_manage_users(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    headers = {"X-API-Key": tenant.api_key, "X-API-Secret": make_key(runtime, tenant, ["read"])}
    body = {"import": {"users": [{"email": "a@example.com"}]}}

    assert client.post(URL, json=body, headers=headers).status_code == 403


def test_an_import_with_bad_rows_imports_the_rest(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, worker: object
):
    make_user(runtime, tenant, external_id="old", first_name="Old")
    make_user(runtime, tenant, email="mail-only@example.com")
    make_user(runtime, tenant, external_id="holder", email="taken@example.com")
    records = [
        {"external_id": "new-1", "email": "new1@example.com", "first_name": "New"},
        {"external_id": "old", "first_name": "Updated"},
        {"email": "mail-only@example.com", "last_name": "Mail"},
        {"external_id": "adopted", "email": "mail-only@example.com"},
        "not an object",
        None,
        {"first_name": "Nameless"},
        {"external_id": "new-2", "email": "taken@example.com"},
        {"external_id": "new-1", "last_name": "Again"},
        {"external_id": "x", "email": "bad", "phone_numbers": ["1"] * 51},
    ]

    response = client.post(URL, json={"import": {"users": records}}, headers=tenant.headers())

    assert response.status_code == 201
    created = response.get_json()["import"]
    assert created["status"] == "enqueued"
    result = _wait_until_processed(client, tenant, created["id"])
    assert result["status"] == "processed"
    assert result["summary"] == {"total": 10, "created": 1, "updated": 4, "failed": 5}
    failures = result["failures"]
    assert [f["index"] for f in failures] == [4, 5, 6, 7, 9]
    assert [f["record"] for f in failures[:2]] == ["not an object", None]
    assert [[e.get("field") for e in f["errors"]] for f in failures[2:]] == [
        ["external_id"],
        ["email"],
        ["email", "phone_numbers"],
    ]
    assert {e["code"] for f in failures for e in f["errors"]} == {"ERR_VALIDATION"}

    def user(ref: str) -> dict:
        return client.get(f"/users/{ref}", headers=tenant.headers()).get_json()["user"]

    assert (user("external_id:new-1")["first_name"], user("external_id:new-1")["last_name"]) == (
        "New",
        "Again",
    )
    assert user("external_id:old")["first_name"] == "Updated"
    assert user("external_id:adopted")["email"] == "mail-only@example.com"
    assert user("external_id:adopted")["last_name"] == "Mail"
    assert client.get("/users/external_id:new-2", headers=tenant.headers()).status_code == 404


def test_each_chunk_is_its_own_transaction_and_a_rerun_resumes(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(service, "CHUNK_SIZE", 2)
    records = [{"external_id": f"u-{n}"} for n in range(5)]
    records[3] = {"external_id": "u-3", "email": "not-an-email"}
    with runtime.database.transaction() as session:
        import_id = service.create_import(session=session, app_id=tenant.app_id, records=records).id

    assert service.import_next_chunk(runtime.database, import_id=import_id)
    with runtime.database.transaction() as session:
        partial = service.get_import(session=session, app_id=tenant.app_id, import_id=import_id)
        assert (partial.status, partial.created_count) == ("processing", 2)
        assert session.scalar(select(func.count()).select_from(User)) == 2

    service.run_import(runtime.database, import_id=import_id)
    service.run_import(runtime.database, import_id=import_id)

    with runtime.database.transaction() as session:
        done = service.get_import(session=session, app_id=tenant.app_id, import_id=import_id)
        assert (done.status, done.created_count, done.failed_count) == ("processed", 4, 1)
        assert done.finished_at is not None
        failures = service.list_failures(session=session, import_id=import_id)
        assert [(f.record_index, f.errors[0]["field"]) for f in failures] == [(3, "email")]
        assert session.scalar(select(func.count()).select_from(ImportChunk)) == 0
        assert session.scalar(select(func.count()).select_from(User)) == 4


def test_long_imports_refresh_postgresql_planner_statistics(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(service, "CHUNK_SIZE", statistics.BULK)
    monkeypatch.setattr(statistics, "MIN_INTERVAL_S", 0.001)  # each chunk outlasts the interval
    with runtime.database.transaction() as session:
        records = [{"external_id": f"u-{n}"} for n in range(2 * statistics.BULK + 1)]
        import_id = service.create_import(session=session, app_id=tenant.app_id, records=records).id

    with counting_statements(runtime.database.engine) as statements:
        service.run_import(runtime.database, import_id=import_id)

    analyzed = [s for s in statements if s.startswith("ANALYZE users")]
    # Two chunks of BULK new users each; the last one (a single user) is no bulk load.
    assert len(analyzed) == (0 if runtime.database.is_sqlite else 2)
    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 2 * statistics.BULK + 1


def test_imports_of_unknown_ids_and_other_apps_are_404(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    with runtime.database.transaction() as session:
        theirs = service.create_import(
            session=session, app_id=other_tenant.app_id, records=[{"email": "a@example.com"}]
        ).id

    for import_id in (theirs, "no-such-import"):
        response = client.get(f"{URL}/{import_id}", headers=tenant.headers())
        assert response.status_code == 404
        assert response.get_json()["errors"][0]["code"] == "ERR_IMPORT_NOT_FOUND"
