"""/api/apps/current/push_providers: an app's FCM and APNs credentials are saved, shown without
their keys, stored encrypted, replaced, removed, and only by and for the app's admins."""

from __future__ import annotations

import json
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from app.push.providers import apns_credentials, configured_platforms, fcm_service_account
from app.runtime import Runtime
from app.tenants.models import App
from app.tenants.service import SCOPES
from tests.support.factories import Tenant, make_key
from tests.support.mobile_push_keys import ApnsKey, new_apns_key, new_service_account
from tests.support.push_providers import apns_body

URL = "/api/apps/current/push_providers"
TOKEN_URI = "https://oauth2.googleapis.com/token"
NOT_CONFIGURED = {
    "fcm": {"configured": False, "projectId": None, "clientEmail": None},
    "apns": {
        "configured": False,
        "keyId": None,
        "teamId": None,
        "bundleId": None,
        "environment": None,
    },
}


def key_body(pem: str) -> str:
    """The base64 lines of a PEM, which no answer and no stored value may contain."""
    return "".join(line for line in pem.splitlines() if not line.startswith("-----"))


def stored_app(runtime: Runtime, tenant: Tenant) -> App:
    with runtime.database.transaction() as session:
        app = session.scalars(select(App).where(App.id == tenant.app_id)).one()
        session.expunge(app)
        return app


def put_both(client: FlaskClient, tenant: Tenant) -> tuple[dict[str, Any], ApnsKey]:
    account, key = new_service_account(TOKEN_URI), new_apns_key()
    fcm = client.put(f"{URL}/fcm", json={"serviceAccount": account}, headers=tenant.headers())
    apns = client.put(f"{URL}/apns", json=apns_body(key), headers=tenant.headers())
    assert (fcm.status_code, apns.status_code) == (200, 200), (fcm.get_json(), apns.get_json())
    return account, key


def test_a_new_app_has_no_push_providers(client: FlaskClient, tenant: Tenant):
    response = client.get(URL, headers=tenant.headers())

    assert response.status_code == 200
    assert response.get_json() == NOT_CONFIGURED


def test_an_fcm_service_account_reads_back_as_its_project_and_client_email(
    client: FlaskClient, tenant: Tenant
):
    account = new_service_account(TOKEN_URI, project_id="acme-shop")

    saved = client.put(f"{URL}/fcm", json={"serviceAccount": account}, headers=tenant.headers())
    read = client.get(URL, headers=tenant.headers())

    assert saved.status_code == 200, saved.get_json()
    shown = {"configured": True, "projectId": "acme-shop", "clientEmail": account["client_email"]}
    assert saved.get_json() == read.get_json() == {**NOT_CONFIGURED, "fcm": shown}


def test_an_apns_key_reads_back_as_its_ids_bundle_and_environment(
    client: FlaskClient, tenant: Tenant
):
    key = new_apns_key()

    saved = client.put(
        f"{URL}/apns", json=apns_body(key, environment="sandbox"), headers=tenant.headers()
    )
    read = client.get(URL, headers=tenant.headers())

    assert saved.status_code == 200, saved.get_json()
    shown = {
        "configured": True,
        "keyId": key.key_id,
        "teamId": key.team_id,
        "bundleId": "com.acme.shop",
        "environment": "sandbox",
    }
    assert saved.get_json() == read.get_json() == {**NOT_CONFIGURED, "apns": shown}


def test_no_answer_discloses_key_material(client: FlaskClient, tenant: Tenant):
    account, key = new_service_account(TOKEN_URI), new_apns_key()

    answers = [
        client.put(f"{URL}/fcm", json={"serviceAccount": account}, headers=tenant.headers()),
        client.put(f"{URL}/apns", json=apns_body(key), headers=tenant.headers()),
        client.get(URL, headers=tenant.headers()),
        client.get("/api/apps/current", headers=tenant.headers()),
    ]

    for answer in answers:
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200
        assert "PRIVATE KEY" not in text
        assert key_body(account["private_key"])[:64] not in text
        assert key_body(key.p8)[:40] not in text
        assert account["private_key_id"] not in text


def test_the_stored_columns_hold_the_keys_only_as_ciphertext(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    account, key = put_both(client, tenant)

    app = stored_app(runtime, tenant)

    assert app.fcm is not None and app.apns is not None
    assert set(app.fcm) == {"project_id", "client_email", "service_account_encrypted"}
    assert set(app.apns) == {
        "key_id",
        "team_id",
        "bundle_id",
        "environment",
        "private_key_encrypted",
    }
    stored = json.dumps([app.fcm, app.apns])
    assert "PRIVATE KEY" not in stored
    assert key_body(account["private_key"])[:64] not in stored
    assert key_body(key.p8)[:40] not in stored


def test_the_senders_read_back_exactly_what_was_saved(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    account, key = put_both(client, tenant)

    app = stored_app(runtime, tenant)

    assert fcm_service_account(app, runtime.encryptor) == account
    credentials = apns_credentials(app, runtime.encryptor)
    assert credentials is not None
    assert (credentials.key_id, credentials.team_id) == (key.key_id, key.team_id)
    assert (credentials.bundle_id, credentials.environment) == ("com.acme.shop", "production")
    assert credentials.private_key == key.p8
    assert configured_platforms(app) == {"android", "ios"}


def test_an_app_without_providers_has_no_credentials_and_no_mobile_platforms(
    runtime: Runtime, tenant: Tenant
):
    app = stored_app(runtime, tenant)

    assert fcm_service_account(app, runtime.encryptor) is None
    assert apns_credentials(app, runtime.encryptor) is None
    assert configured_platforms(app) == frozenset()


def test_putting_credentials_again_replaces_them(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    first, rotated = new_apns_key(), new_apns_key()
    client.put(f"{URL}/apns", json=apns_body(first), headers=tenant.headers())
    old_account = new_service_account(TOKEN_URI, project_id="acme-old")
    client.put(f"{URL}/fcm", json={"serviceAccount": old_account}, headers=tenant.headers())
    new_account = new_service_account(TOKEN_URI, project_id="acme-new")

    client.put(f"{URL}/apns", json=apns_body(rotated), headers=tenant.headers())
    client.put(f"{URL}/fcm", json={"serviceAccount": new_account}, headers=tenant.headers())

    shown = client.get(URL, headers=tenant.headers()).get_json()
    assert (shown["apns"]["keyId"], shown["fcm"]["projectId"]) == (rotated.key_id, "acme-new")
    app = stored_app(runtime, tenant)
    credentials = apns_credentials(app, runtime.encryptor)
    assert credentials is not None and credentials.private_key == rotated.p8
    assert fcm_service_account(app, runtime.encryptor) == new_account


def test_delete_removes_one_provider_and_keeps_the_other(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    put_both(client, tenant)

    response = client.delete(f"{URL}/fcm", headers=tenant.headers())

    assert (response.status_code, response.get_data()) == (204, b"")
    shown = client.get(URL, headers=tenant.headers()).get_json()
    assert shown["fcm"] == NOT_CONFIGURED["fcm"]
    assert shown["apns"]["configured"] is True
    assert configured_platforms(stored_app(runtime, tenant)) == {"ios"}


def test_removing_a_provider_that_is_not_configured_is_not_found(
    client: FlaskClient, tenant: Tenant
):
    response = client.delete(f"{URL}/apns", headers=tenant.headers())

    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"] == "ERR_PUSH_PROVIDER_NOT_CONFIGURED"


def test_an_unknown_provider_is_not_found(client: FlaskClient, tenant: Tenant):
    response = client.delete(f"{URL}/huawei", headers=tenant.headers())

    assert response.status_code == 404
    assert response.get_json()["errors"][0]["code"] == "ERR_PUSH_PROVIDER_NOT_FOUND"


def test_a_key_without_admin_can_neither_read_nor_change_providers(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    put_both(client, tenant)
    secret = make_key(runtime, tenant, [scope for scope in SCOPES if scope != "admin"])
    headers = {"Authorization": f"Bearer {secret}"}
    account = {"serviceAccount": new_service_account(TOKEN_URI, project_id="intruder")}

    answers = [
        client.get(URL, headers=headers),
        client.put(f"{URL}/fcm", json=account, headers=headers),
        client.put(f"{URL}/apns", json=apns_body(new_apns_key()), headers=headers),
        client.delete(f"{URL}/fcm", headers=headers),
    ]

    assert [a.status_code for a in answers] == [403, 403, 403, 403]
    assert {a.get_json()["errors"][0]["code"] for a in answers} == {"forbidden"}
    assert client.get(URL, headers=tenant.headers()).get_json()["fcm"]["projectId"] == (
        "herald-test"
    )


def test_another_apps_credentials_never_show_and_cannot_be_removed(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    put_both(client, tenant)

    theirs = client.get(URL, headers=other_tenant.headers())
    removed = client.delete(f"{URL}/fcm", headers=other_tenant.headers())

    assert theirs.get_json() == NOT_CONFIGURED
    assert removed.status_code == 404
    assert client.get(URL, headers=tenant.headers()).get_json()["fcm"]["configured"] is True
