"""The `herald` command line prints JSON on stdout and errors on stderr."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.runtime import Runtime
from app.tenants.models import SecretKey


@pytest.fixture
def cli(runtime: Runtime, database_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args))
        assert (result.exit_code == 0) is ok, result.output + str(result.stderr)
        return json.loads(result.stdout) if ok else result

    return run


def test_apps_create_prints_credentials_once_and_stores_no_plain_secret(cli, runtime: Runtime):
    created = cli("apps", "create", "--name", "shop")

    assert set(created) == {"app_id", "api_key", "api_secret"}
    with runtime.database.transaction() as session:
        key = session.scalars(select(SecretKey)).one()
        stored = " ".join(str(v) for v in (key.secret_hash, key.secret_encrypted))
    assert created["api_secret"] not in stored
    assert runtime.encryptor.decrypt(key.secret_encrypted) == created["api_secret"]


def test_apps_list_is_a_json_array(cli):
    cli("apps", "create", "--name", "one")
    cli("apps", "create", "--name", "two")

    assert [a["name"] for a in cli("apps", "list")] == ["one", "two"]


def test_keys_create_defaults_to_send_and_read(cli, client):
    app = cli("apps", "create", "--name", "shop")

    key = cli("keys", "create", "--app", app["app_id"], "--owner-email", "ops@shop.test")

    assert key["scopes"] == ["read", "send_notifications"]
    bearer = {"Authorization": f"Bearer {key['api_secret']}"}
    assert client.get("/api/templates", headers=bearer).status_code == 200
    assert client.get("/api/apps/current", headers=bearer).status_code == 403  # needs admin


def test_keys_create_refuses_unknown_scopes(cli):
    app = cli("apps", "create", "--name", "shop")

    result = cli("keys", "create", "--app", app["app_id"], "--scopes", "read,fly", ok=False)

    assert "fly" in result.stderr


def test_keys_revoke_stops_the_key(cli, client):
    app = cli("apps", "create", "--name", "shop")
    key = cli("keys", "create", "--app", app["app_id"], "--scopes", "read")

    assert cli("keys", "revoke", "--app", app["app_id"], "--key", key["key_id"]) == {
        "key_id": key["key_id"],
        "revoked": True,
    }
    response = client.get(
        "/api/apps/current", headers={"Authorization": f"Bearer {key['api_secret']}"}
    )
    assert response.status_code == 401


def test_rotate_secret_replaces_the_primary(cli, client):
    app = cli("apps", "create", "--name", "shop")

    rotated = cli("apps", "rotate-secret", app["app_id"])

    assert rotated["app_id"] == app["app_id"] and rotated["api_secret"] != app["api_secret"]
    old = client.get("/api/apps/current", headers={"Authorization": f"Bearer {app['api_secret']}"})
    new = client.get(
        "/api/apps/current", headers={"Authorization": f"Bearer {rotated['api_secret']}"}
    )
    assert (old.status_code, new.status_code) == (401, 200)


def test_apps_update_sets_typed_values(cli):
    app = cli("apps", "create", "--name", "shop")

    updated = cli(
        "apps",
        "update",
        app["app_id"],
        "--set",
        "hmacRequired=false",
        "--set",
        'criticalCategories=["security"]',
    )

    assert updated["hmacRequired"] is False and updated["criticalCategories"] == ["security"]


def test_apps_update_reports_invalid_values_on_stderr(cli):
    app = cli("apps", "create", "--name", "shop")

    result = cli("apps", "update", app["app_id"], "--set", "batchTargetLimit=0", ok=False)

    assert "batchTargetLimit" in result.stderr


def test_allow_list_is_shown_and_replaced_from_the_cli(cli):
    app = cli("apps", "create", "--name", "shop")

    assert cli("apps", "allow-list", app["app_id"])["enabled"] is False
    replaced = cli(
        "apps",
        "allow-list",
        app["app_id"],
        "--set",
        '{"enabled": true, "domains": ["Example.com"]}',
    )

    assert replaced == {
        "enabled": True,
        "domains": ["example.com"],
        "emails": [],
        "allowRegisteredUsers": False,
    }


def test_allow_list_refuses_invalid_documents(cli):
    app = cli("apps", "create", "--name", "shop")

    result = cli(
        "apps", "allow-list", app["app_id"], "--set", '{"domains": ["not a domain"]}', ok=False
    )

    assert "enabled" in result.stderr
