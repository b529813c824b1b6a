"""`herald push-providers set|show|remove`: an app's FCM and APNs credentials from the command
line, shown as `GET /api/apps/current/push_providers` shows them, refused as the API refuses."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient

from app.push.providers import apns_credentials, fcm_service_account
from app.runtime import Runtime
from app.tenants.models import App
from tests.support.factories import Tenant
from tests.support.mobile_push_keys import ApnsKey, new_apns_key, new_service_account

TOKEN_URI = "https://oauth2.googleapis.com/token"
URL = "/api/apps/current/push_providers"


def service_account_file(tmp_path: Path, project_id: str = "acme-shop") -> tuple[Path, dict]:
    account = new_service_account(TOKEN_URI, project_id=project_id)
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(account))
    return path, account


def p8_file(tmp_path: Path, key: ApnsKey) -> Path:
    path = tmp_path / f"AuthKey_{key.key_id}.p8"
    path.write_text(key.p8)
    return path


def set_fcm(tenant: Tenant, path: Path) -> list[str]:
    return ["push-providers", "set", "fcm", "--app", tenant.app_id, "--service-account", str(path)]


def set_apns(tenant: Tenant, key: ApnsKey, path: Path, *extra: str) -> list[str]:
    return [
        *("push-providers", "set", "apns", "--app", tenant.app_id),
        *("--key-id", key.key_id, "--team-id", key.team_id, "--private-key", str(path)),
        *("--bundle-id", "com.acme.shop", "--environment", "sandbox", *extra),
    ]


def test_set_and_show_answer_what_the_api_reads(
    cli, client: FlaskClient, tenant: Tenant, tmp_path: Path
):
    account_path, account = service_account_file(tmp_path)
    key = new_apns_key()

    cli(*set_fcm(tenant, account_path))
    after_apns = cli(*set_apns(tenant, key, p8_file(tmp_path, key)))
    shown = cli("push-providers", "show", "--app", tenant.app_id)

    assert after_apns == shown == client.get(URL, headers=tenant.headers()).get_json()
    assert shown["fcm"] == {
        "configured": True,
        "projectId": "acme-shop",
        "clientEmail": account["client_email"],
    }
    assert shown["apns"] == {
        "configured": True,
        "keyId": key.key_id,
        "teamId": key.team_id,
        "bundleId": "com.acme.shop",
        "environment": "sandbox",
    }


def test_the_commands_store_the_keys_encrypted_and_print_none_of_them(
    cli, runtime: Runtime, tenant: Tenant, tmp_path: Path
):
    account_path, account = service_account_file(tmp_path)
    key = new_apns_key()

    printed = [
        cli.run(*set_fcm(tenant, account_path)),
        cli.run(*set_apns(tenant, key, p8_file(tmp_path, key))),
        cli.run("push-providers", "show", "--app", tenant.app_id),
    ]

    assert all("PRIVATE KEY" not in result.output for result in printed)
    with runtime.database.transaction() as session:
        app = session.get(App, tenant.app_id)
        assert app is not None
        assert "PRIVATE KEY" not in json.dumps([app.fcm, app.apns])
        assert fcm_service_account(app, runtime.encryptor) == account
        credentials = apns_credentials(app, runtime.encryptor)
    assert credentials is not None and credentials.private_key == key.p8


def test_remove_forgets_one_provider(cli, client: FlaskClient, tenant: Tenant, tmp_path: Path):
    account_path, _ = service_account_file(tmp_path)
    cli(*set_fcm(tenant, account_path))

    removed = cli("push-providers", "remove", "fcm", "--app", tenant.app_id)

    assert removed["fcm"] == {"configured": False, "projectId": None, "clientEmail": None}
    assert client.get(URL, headers=tenant.headers()).get_json() == removed


def test_setting_again_replaces_the_credentials(cli, tenant: Tenant, tmp_path: Path):
    first, rotated = new_apns_key(), new_apns_key()
    cli(*set_apns(tenant, first, p8_file(tmp_path, first)))

    shown = cli(*set_apns(tenant, rotated, p8_file(tmp_path, rotated)))

    assert shown["apns"]["keyId"] == rotated.key_id


def test_refusals_print_the_apis_error_envelope(cli, tenant: Tenant, tmp_path: Path):
    key = new_apns_key()
    not_p8 = tmp_path / "key.pem"
    not_p8.write_text("not a key")
    not_json = tmp_path / "account.json"
    not_json.write_text("{not json")

    bad_key = cli.refusal(*set_apns(tenant, key, not_p8))
    bad_json = cli.refusal(*set_fcm(tenant, not_json))
    missing = cli.refusal(*set_fcm(tenant, tmp_path / "absent.json"))
    not_configured = cli.refusal("push-providers", "remove", "apns", "--app", tenant.app_id)
    no_app = cli.refusal("push-providers", "show", "--app", "no-such-app")

    def first(envelope: dict) -> tuple[str, str | None]:
        return envelope["errors"][0]["code"], envelope["errors"][0].get("field")

    assert first(bad_key) == ("ERR_BAD_REQUEST", "privateKey")
    assert first(bad_json) == ("ERR_BAD_REQUEST", "--service-account")
    assert first(missing) == ("ERR_BAD_REQUEST", "--service-account")
    assert first(not_configured) == ("ERR_PUSH_PROVIDER_NOT_CONFIGURED", None)
    assert first(no_app) == ("ERR_APP_NOT_FOUND", None)


def test_a_service_account_file_is_checked_as_the_api_checks_it(
    cli, tenant: Tenant, tmp_path: Path
):
    account_path, account = service_account_file(tmp_path)
    account_path.write_text(json.dumps({**account, "type": "authorized_user", "private_key": "x"}))

    refused = cli.refusal(*set_fcm(tenant, account_path))

    assert [e["field"] for e in refused["errors"]] == ["serviceAccount.type"]
