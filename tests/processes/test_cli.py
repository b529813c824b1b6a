"""The `herald` command line prints JSON on stdout and refusals' error envelopes on stderr:
apps, keys and migrations."""

from __future__ import annotations

import json

from alembic.script import ScriptDirectory
from sqlalchemy import select

from app.cli.db import without_password
from app.migrate import alembic_config
from app.runtime import Runtime
from app.tenants.models import SecretKey
from app.tenants.service import SCOPES


def test_apps_create_prints_credentials_once_and_stores_no_plain_secret(cli, runtime: Runtime):
    created = cli("apps", "create", "--name", "shop")

    assert set(created) == {"appId", "apiKey", "apiSecret"}
    with runtime.database.transaction() as session:
        key = session.scalars(select(SecretKey)).one()
        stored = " ".join(str(v) for v in (key.secret_hash, key.secret_encrypted))
    assert created["apiSecret"] not in stored
    assert runtime.encryptor.decrypt(key.secret_encrypted) == created["apiSecret"]


def test_apps_list_is_a_json_array(cli):
    cli("apps", "create", "--name", "one")
    cli("apps", "create", "--name", "two")

    assert [a["name"] for a in cli("apps", "list")] == ["one", "two"]


def test_keys_create_defaults_to_send_and_read(cli, client):
    app = cli("apps", "create", "--name", "shop")

    key = cli("keys", "create", "--app", app["appId"], "--owner-email", "ops@shop.test")

    assert key["scopes"] == ["read", "send_notifications"]
    bearer = {"Authorization": f"Bearer {key['apiSecret']}"}
    assert client.get("/api/templates", headers=bearer).status_code == 200
    assert client.get("/api/apps/current", headers=bearer).status_code == 403  # needs admin


def test_keys_create_refuses_unknown_scopes(cli):
    app = cli("apps", "create", "--name", "shop")

    refused = cli.refusal("keys", "create", "--app", app["appId"], "--scopes", "read,fly")

    [error] = refused["errors"]
    assert (error["code"], error["field"]) == ("ERR_BAD_REQUEST", "scopes")
    assert "fly" in error["message"]


def test_keys_revoke_stops_the_key(cli, client):
    app = cli("apps", "create", "--name", "shop")
    key = cli("keys", "create", "--app", app["appId"], "--scopes", "read")

    assert cli("keys", "revoke", "--app", app["appId"], "--key", key["keyId"]) == {
        "keyId": key["keyId"],
        "revoked": True,
    }
    response = client.get(
        "/api/apps/current", headers={"Authorization": f"Bearer {key['apiSecret']}"}
    )
    assert response.status_code == 401


def test_rotate_secret_replaces_the_primary(cli, client):
    app = cli("apps", "create", "--name", "shop")

    rotated = cli("apps", "rotate-secret", app["appId"])

    assert rotated["appId"] == app["appId"] and rotated["apiSecret"] != app["apiSecret"]
    old = client.get("/api/apps/current", headers={"Authorization": f"Bearer {app['apiSecret']}"})
    new = client.get(
        "/api/apps/current", headers={"Authorization": f"Bearer {rotated['apiSecret']}"}
    )
    assert (old.status_code, new.status_code) == (401, 200)


def test_apps_update_sets_typed_values(cli):
    app = cli("apps", "create", "--name", "shop")

    updated = cli(
        "apps",
        "update",
        app["appId"],
        "--set",
        "hmacRequired=false",
        "--set",
        'criticalCategories=["security"]',
    )

    assert updated["hmacRequired"] is False and updated["criticalCategories"] == ["security"]


def test_apps_update_refuses_invalid_values_as_the_api_does(cli, client):
    app = cli("apps", "create", "--name", "shop")

    refused = cli.refusal("apps", "update", app["appId"], "--set", "batchTargetLimit=0")

    answered = client.patch(
        "/api/apps/current",
        json={"batchTargetLimit": 0},
        headers={"Authorization": f"Bearer {app['apiSecret']}"},
    )
    assert (answered.status_code, answered.get_json()) == (400, refused)
    assert refused["errors"][0]["field"] == "batchTargetLimit"


def test_allow_list_is_shown_and_replaced_from_the_cli(cli):
    app = cli("apps", "create", "--name", "shop")

    assert cli("apps", "allow-list", app["appId"])["enabled"] is False
    replaced = cli(
        "apps",
        "allow-list",
        app["appId"],
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

    refused = cli.refusal(
        "apps", "allow-list", app["appId"], "--set", '{"domains": ["not a domain"]}'
    )

    assert {e["field"] for e in refused["errors"]} >= {"enabled"}


def test_keys_list_shows_every_key_without_its_secret(cli):
    app = cli("apps", "create", "--name", "shop")
    ops = cli("keys", "create", "--app", app["appId"], "--owner-email", "ops@shop.test")
    old = cli("keys", "create", "--app", app["appId"], "--scopes", "read")
    cli("keys", "revoke", "--app", app["appId"], "--key", old["keyId"])

    listed = cli("keys", "list", "--app", app["appId"])

    assert [(k["primary"], k["scopes"], k["ownerEmail"]) for k in listed] == [
        (True, list(SCOPES), None),
        (False, ["read", "send_notifications"], "ops@shop.test"),
        (False, ["read"], None),
    ]
    assert [k["keyId"] for k in listed[1:]] == [ops["keyId"], old["keyId"]]
    assert [k["revokedAt"] is not None for k in listed] == [False, False, True]
    assert all(
        set(k) == {"keyId", "scopes", "ownerEmail", "primary", "createdAt", "revokedAt"}
        for k in listed
    )
    printed = json.dumps(listed)
    assert all(s not in printed for s in (app["apiSecret"], ops["apiSecret"], old["apiSecret"]))


def test_keys_list_of_an_unknown_app_is_refused(cli):
    refused = cli.refusal("keys", "list", "--app", "no-such-app")

    assert refused["errors"][0]["code"] == "ERR_APP_NOT_FOUND"


def test_db_upgrade_prints_the_database_and_the_revision_it_is_at(cli, database_url: str):
    upgraded = cli("db", "upgrade")

    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert upgraded == {"database": database_url, "revision": head}


def test_db_upgrade_never_prints_the_database_password():
    shown = without_password("postgresql+psycopg://herald:hunter2@db.internal:5432/herald")

    assert shown == "postgresql+psycopg://herald@db.internal:5432/herald"
