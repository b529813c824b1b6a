"""An app's DKIM key through PATCH /api/apps/current: checked, stored encrypted, never shown."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.runtime import Runtime
from app.tenants.models import App
from tests.support.dkim import WEAK_RSA_PEM, ec_private_pem, encrypted_rsa_pem, rsa_key
from tests.support.factories import Tenant

URL = "/api/apps/current"


def dkim_setting(private_pem: str | None = None, **overrides: str) -> dict:
    return {
        "dkim": {
            "domain": "shop.test",
            "selector": "s2024",
            "privateKey": private_pem or rsa_key().private_pem,
            **overrides,
        }
    }


def key_body(private_pem: str) -> str:
    """The base64 lines of a PEM, which no answer and no stored value may contain."""
    return "".join(line for line in private_pem.splitlines() if not line.startswith("-----"))


def stored_dkim(runtime: Runtime, tenant: Tenant) -> dict | None:
    with runtime.database.transaction() as session:
        return session.scalar(select(App.dkim).where(App.id == tenant.app_id))


@pytest.mark.parametrize("pkcs8", [True, False], ids=["pkcs8", "pkcs1"])
def test_a_configured_dkim_key_reads_back_as_its_domain_and_selector_only(
    client: FlaskClient, tenant: Tenant, pkcs8: bool
):
    private_pem = rsa_key(pkcs8=pkcs8).private_pem

    patched = client.patch(URL, json=dkim_setting(private_pem), headers=tenant.headers())
    read = client.get(URL, headers=tenant.headers())

    assert patched.status_code == 200, patched.get_json()
    shown = {"domain": "shop.test", "selector": "s2024", "configured": True}
    assert patched.get_json()["dkim"] == shown
    assert read.get_json()["dkim"] == shown
    for answer in (patched, read):
        assert key_body(private_pem)[:64] not in answer.get_data(as_text=True)


def test_a_new_app_has_no_dkim_key(client: FlaskClient, tenant: Tenant):
    assert client.get(URL, headers=tenant.headers()).get_json()["dkim"] is None


def test_the_dkim_key_is_stored_encrypted(client: FlaskClient, tenant: Tenant, runtime: Runtime):
    private_pem = rsa_key().private_pem
    client.patch(URL, json=dkim_setting(private_pem, domain="Shop.Test"), headers=tenant.headers())

    stored = stored_dkim(runtime, tenant)

    assert stored is not None
    assert (stored["domain"], stored["selector"]) == ("shop.test", "s2024")
    assert set(stored) == {"domain", "selector", "private_key_encrypted"}
    assert "PRIVATE KEY" not in json.dumps(stored)
    assert key_body(private_pem)[:64] not in json.dumps(stored)


@pytest.mark.parametrize(
    "private_pem",
    [
        "not a key",
        ec_private_pem(),
        encrypted_rsa_pem(),
        WEAK_RSA_PEM,
        rsa_key().public_pem,
    ],
    ids=["garbage", "not-rsa", "passphrase", "512-bits", "public-key"],
)
def test_a_private_key_dkim_cannot_use_is_refused_naming_the_field(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, private_pem: str
):
    response = client.patch(URL, json=dkim_setting(private_pem), headers=tenant.headers())

    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("ERR_BAD_REQUEST", "dkim.privateKey")]
    assert stored_dkim(runtime, tenant) is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"domain": "localhost"}, "dkim.domain"),
        ({"domain": "-shop.test"}, "dkim.domain"),
        ({"domain": "shop.test\n"}, "dkim.domain"),
        ({"domain": "shop test.com"}, "dkim.domain"),
        ({"domain": "shop.test; s=evil"}, "dkim.domain"),
        ({"selector": "s 1"}, "dkim.selector"),
        ({"selector": "s1;"}, "dkim.selector"),
        ({"selector": ""}, "dkim.selector"),
    ],
)
def test_a_malformed_dkim_domain_or_selector_is_refused_naming_the_field(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, overrides: dict, field: str
):
    response = client.patch(URL, json=dkim_setting(**overrides), headers=tenant.headers())

    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == [field]
    assert stored_dkim(runtime, tenant) is None


def test_a_dkim_setting_without_its_key_is_refused(client: FlaskClient, tenant: Tenant):
    response = client.patch(
        URL, json={"dkim": {"domain": "shop.test", "selector": "s1"}}, headers=tenant.headers()
    )

    assert response.status_code == 400
    assert [e["field"] for e in response.get_json()["errors"]] == ["dkim.privateKey"]


def test_dkim_null_removes_the_key(client: FlaskClient, tenant: Tenant, runtime: Runtime):
    client.patch(URL, json=dkim_setting(), headers=tenant.headers())

    removed = client.patch(URL, json={"dkim": None}, headers=tenant.headers())

    assert removed.status_code == 200
    assert removed.get_json()["dkim"] is None
    assert client.get(URL, headers=tenant.headers()).get_json()["dkim"] is None
    assert stored_dkim(runtime, tenant) is None


def test_changing_other_settings_keeps_the_dkim_key(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    client.patch(URL, json=dkim_setting(), headers=tenant.headers())
    before = stored_dkim(runtime, tenant)

    client.patch(URL, json={"senderName": "Shop"}, headers=tenant.headers())

    assert stored_dkim(runtime, tenant) == before
