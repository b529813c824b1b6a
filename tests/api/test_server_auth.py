"""Server calls: every credential form the seeds use, and every refusal code."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant, make_key

URL = "/api/apps/current"


def codes(response) -> list[str]:
    return [error["code"] for error in response.get_json()["errors"]]


@pytest.mark.parametrize(
    "form",
    ["x-api", "magicbell", "appid-apikey", "bearer", "bearer-with-key"],
)
def test_every_documented_header_form_authenticates(client: FlaskClient, tenant: Tenant, form: str):
    headers = {
        "x-api": {"X-API-Key": tenant.api_key, "X-API-Secret": tenant.secret},
        "magicbell": {
            "X-MAGICBELL-API-KEY": tenant.api_key,
            "X-MAGICBELL-API-SECRET": tenant.secret,
        },
        "appid-apikey": {"appid": tenant.app_id, "apikey": tenant.secret},
        "bearer": {"Authorization": f"Bearer {tenant.secret}"},
        "bearer-with-key": {
            "X-API-Key": tenant.api_key,
            "Authorization": f"Bearer {tenant.secret}",
        },
    }[form]

    response = client.get(URL, headers=headers)

    assert response.status_code == 200
    assert response.get_json()["appId"] == tenant.app_id


def test_no_credentials_at_all_is_api_key_not_provided(client: FlaskClient, tenant: Tenant):
    response = client.get(URL)

    assert response.status_code == 401
    assert codes(response) == ["api_key_not_provided"]


@pytest.mark.parametrize(
    "headers", [{"X-API-Key": "pk_nope", "X-API-Secret": "x"}, {"appid": "nope", "apikey": "x"}]
)
def test_unknown_api_key_or_app_id_is_incorrect_api_key(
    client: FlaskClient, tenant: Tenant, headers
):
    response = client.get(URL, headers=headers)

    assert response.status_code == 401
    assert codes(response) == ["incorrect_api_key"]


def test_key_without_secret_is_api_secret_not_provided(client: FlaskClient, tenant: Tenant):
    response = client.get(URL, headers={"X-API-Key": tenant.api_key})

    assert response.status_code == 401
    assert codes(response) == ["api_secret_not_provided"]


def test_wrong_secret_is_api_secret_is_incorrect(client: FlaskClient, tenant: Tenant):
    response = client.get(URL, headers={"X-API-Key": tenant.api_key, "X-API-Secret": "sk_wrong"})

    assert response.status_code == 401
    assert codes(response) == ["api_secret_is_incorrect"]


def test_unknown_bearer_value_is_api_secret_is_incorrect(client: FlaskClient, tenant: Tenant):
    response = client.get(URL, headers={"Authorization": "Bearer not-a-secret"})

    assert response.status_code == 401
    assert codes(response) == ["api_secret_is_incorrect"]


def test_secret_of_another_app_is_refused(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    response = client.get(
        URL, headers={"X-API-Key": tenant.api_key, "X-API-Secret": other_tenant.secret}
    )

    assert response.status_code == 401
    assert codes(response) == ["api_secret_is_incorrect"]


def test_revoked_key_is_refused(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    from app.tenants import service

    secret = make_key(runtime, tenant, ["read"])
    with runtime.database.transaction() as session:
        key = service.find_active_key(session=session, secret=secret)
        service.revoke_secret_key(session=session, app_id=tenant.app_id, key_id=key.id)

    response = client.get(URL, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 401
    assert codes(response) == ["api_secret_is_incorrect"]


def test_missing_scope_is_forbidden(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    secret = make_key(runtime, tenant, ["send_notifications"])

    response = client.get(URL, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 403
    assert codes(response) == ["forbidden"]


def test_read_scope_cannot_change_settings(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    secret = make_key(runtime, tenant, ["read"])

    response = client.patch(URL, json={"name": "x"}, headers={"Authorization": f"Bearer {secret}"})

    assert response.status_code == 403


def test_tenant_header_of_another_app_is_forbidden(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    response = client.get(URL, headers={**tenant.headers(), "X-Tenant-ID": other_tenant.app_id})

    assert response.status_code == 403
    assert codes(response) == ["forbidden"]


def test_tenant_header_of_own_app_is_accepted(client: FlaskClient, tenant: Tenant):
    response = client.get(URL, headers={**tenant.headers(), "X-Tenant-ID": tenant.app_id})

    assert response.status_code == 200


def test_each_app_sees_only_itself(client: FlaskClient, tenant: Tenant, other_tenant: Tenant):
    mine = client.get(URL, headers=tenant.headers()).get_json()
    theirs = client.get(URL, headers=other_tenant.headers()).get_json()

    assert (mine["appId"], theirs["appId"]) == (tenant.app_id, other_tenant.app_id)
    assert mine["name"] == "acme" and theirs["name"] == "globex"
