"""GET/PATCH /api/apps/current: settings with the conventions' names and defaults."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from app.tenants.models import App
from tests.support.factories import Tenant

URL = "/api/apps/current"


def test_new_app_has_the_documented_defaults(client: FlaskClient, tenant: Tenant):
    body = client.get(URL, headers=tenant.headers()).get_json()

    assert body["hmacRequired"] is True
    assert body["realtimeTargetLimit"] == 1
    assert body["batchTargetLimit"] == 10_000
    assert body["rateLimitReadPerMinute"] == 100
    assert body["rateLimitWritePerMinute"] == 60
    assert body["criticalCategories"] == []
    assert body["oauth2"] is None
    assert body["apiKey"] == tenant.api_key
    assert len(body["vapidPublicKey"]) == 87


def test_patch_changes_only_what_it_names_and_answers_every_setting(
    client: FlaskClient, tenant: Tenant
):
    response = client.patch(
        URL,
        json={"senderEmail": "news@acme.test", "senderName": "Acme", "batchTargetLimit": 500},
        headers=tenant.headers(),
    )

    assert response.status_code == 200
    body = response.get_json()
    assert (body["senderEmail"], body["senderName"], body["batchTargetLimit"]) == (
        "news@acme.test",
        "Acme",
        500,
    )
    assert body["realtimeTargetLimit"] == 1
    assert client.get(URL, headers=tenant.headers()).get_json()["batchTargetLimit"] == 500


def test_invalid_settings_are_all_reported_with_their_fields(client: FlaskClient, tenant: Tenant):
    response = client.patch(
        URL,
        json={"senderEmail": "not-an-email", "batchTargetLimit": 0, "colour": "red"},
        headers=tenant.headers(),
    )

    assert response.status_code == 400
    fields = sorted(e["field"] for e in response.get_json()["errors"])
    assert fields == ["batchTargetLimit", "colour", "senderEmail"]
    assert {e["code"] for e in response.get_json()["errors"]} == {"ERR_BAD_REQUEST"}


def test_invalid_patch_changes_nothing(client: FlaskClient, tenant: Tenant):
    client.patch(URL, json={"senderName": "Kept", "batchTargetLimit": -1}, headers=tenant.headers())

    assert client.get(URL, headers=tenant.headers()).get_json()["senderName"] is None


def test_oauth2_hs256_secret_is_write_only_and_encrypted(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    config = {"issuer": "https://idp.test", "audience": "herald", "hs256Secret": "s" * 32}

    body = client.patch(URL, json={"oauth2": config}, headers=tenant.headers()).get_json()

    assert body["oauth2"] == {
        "issuer": "https://idp.test",
        "audience": "herald",
        "hs256SecretSet": True,
    }
    with runtime.database.transaction() as session:
        stored = session.get(App, tenant.app_id).oauth2
    assert "s" * 32 not in str(stored)


def test_oauth2_needs_exactly_one_key_source(client: FlaskClient, tenant: Tenant):
    response = client.patch(
        URL, json={"oauth2": {"issuer": "i", "audience": "a"}}, headers=tenant.headers()
    )

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "oauth2"


def test_settings_of_one_app_never_change_another(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    client.patch(URL, json={"name": "renamed"}, headers=tenant.headers())

    assert client.get(URL, headers=other_tenant.headers()).get_json()["name"] == "globex"


def test_email_per_second_is_unlimited_until_set_and_shown_once_set(
    client: FlaskClient, tenant: Tenant
):
    unset = client.get(URL, headers=tenant.headers()).get_json()["emailPerSecond"]
    set_to = client.patch(URL, json={"emailPerSecond": 25}, headers=tenant.headers()).get_json()
    shown = client.get(URL, headers=tenant.headers()).get_json()["emailPerSecond"]
    cleared = client.patch(URL, json={"emailPerSecond": None}, headers=tenant.headers())

    assert (unset, set_to["emailPerSecond"], shown) == (None, 25, 25)
    assert cleared.get_json()["emailPerSecond"] is None


@pytest.mark.parametrize("value", [0, -3, 2.5, "10", True, 1_000_001])
def test_email_per_second_must_be_a_positive_whole_number(
    client: FlaskClient, tenant: Tenant, value: object
):
    response = client.patch(URL, json={"emailPerSecond": value}, headers=tenant.headers())

    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == ["emailPerSecond"]
    assert client.get(URL, headers=tenant.headers()).get_json()["emailPerSecond"] is None
