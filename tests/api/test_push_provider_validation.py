"""Push provider credentials are checked when saved: each problem is a 400 naming its field, and
a refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask.testing import FlaskClient
from sqlalchemy import select

from app.engine.channels.destinations import DestinationGuard, DestinationPolicy
from app.push import providers
from app.refusals import InvalidRequest
from app.runtime import Runtime
from app.tenants.models import App
from tests.support.dkim import WEAK_RSA_PEM, ec_private_pem, encrypted_rsa_pem, rsa_key
from tests.support.factories import Tenant
from tests.support.mobile_push_keys import new_apns_key, new_service_account
from tests.support.push_providers import apns_body
from tests.support.resolvers import StubResolver

URL = "/api/apps/current/push_providers"
TOKEN_URI = "https://oauth2.googleapis.com/token"


def fcm_body(**overrides: Any) -> dict[str, Any]:
    return {"serviceAccount": {**new_service_account(TOKEN_URI), **overrides}}


def refused_fields(response: Any) -> list[str]:
    assert response.status_code == 400, response.get_json()
    errors = response.get_json()["errors"]
    assert {e["code"] for e in errors} == {"ERR_BAD_REQUEST"}
    return sorted(e.get("field", "") for e in errors)


def stored(runtime: Runtime, tenant: Tenant) -> tuple[Any, Any]:
    with runtime.database.transaction() as session:
        return session.execute(select(App.fcm, App.apns).where(App.id == tenant.app_id)).one()


def pem(key: ec.EllipticCurvePrivateKey, form: serialization.PrivateFormat) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()


def encrypted_p8() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = serialization.BestAvailableEncryption(b"passphrase")
    form = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, form, encryption).decode()


@pytest.mark.parametrize(
    "private_key",
    ["not a key", ec_private_pem(), encrypted_rsa_pem(), WEAK_RSA_PEM, rsa_key().public_pem],
    ids=["garbage", "not-rsa", "passphrase", "512-bits", "public-key"],
)
def test_a_service_account_key_google_cannot_use_is_refused_naming_it(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, private_key: str
):
    response = client.put(
        f"{URL}/fcm", json=fcm_body(private_key=private_key), headers=tenant.headers()
    )

    assert refused_fields(response) == ["serviceAccount.private_key"]
    assert stored(runtime, tenant) == (None, None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "authorized_user"}, "serviceAccount.type"),
        ({"project_id": "Acme Shop"}, "serviceAccount.project_id"),
        ({"project_id": "acme/../x"}, "serviceAccount.project_id"),
        ({"project_id": None}, "serviceAccount.project_id"),
        ({"client_email": "not an address"}, "serviceAccount.client_email"),
        ({"token_uri": "not a url"}, "serviceAccount.token_uri"),
        ({"token_uri": "ftp://oauth2.example.com/token"}, "serviceAccount.token_uri"),
        ({"private_key": "k" * 16_385}, "serviceAccount.private_key"),
        ({"client_id": "1" * 129}, "serviceAccount.client_id"),
    ],
)
def test_a_malformed_service_account_is_refused_naming_the_field(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, overrides: dict, field: str
):
    response = client.put(f"{URL}/fcm", json=fcm_body(**overrides), headers=tenant.headers())

    assert refused_fields(response) == [field]
    assert stored(runtime, tenant) == (None, None)


def test_a_service_account_missing_what_herald_uses_is_refused_naming_each_field(
    client: FlaskClient, tenant: Tenant
):
    account = fcm_body()["serviceAccount"]
    for name in ("project_id", "client_email", "private_key", "token_uri"):
        del account[name]

    response = client.put(f"{URL}/fcm", json={"serviceAccount": account}, headers=tenant.headers())

    assert refused_fields(response) == [
        "serviceAccount.client_email",
        "serviceAccount.private_key",
        "serviceAccount.project_id",
        "serviceAccount.token_uri",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "serviceAccount"),
        ({"serviceAccount": "the file's path"}, "serviceAccount"),
        ({**fcm_body(), "projectId": "acme"}, "projectId"),
    ],
    ids=["missing", "not-an-object", "unknown-field"],
)
def test_an_fcm_body_other_than_one_service_account_is_refused(
    client: FlaskClient, tenant: Tenant, body: dict, field: str
):
    response = client.put(f"{URL}/fcm", json=body, headers=tenant.headers())

    assert refused_fields(response) == [field]


def test_names_google_may_add_to_the_key_file_are_left_out_not_refused(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    response = client.put(f"{URL}/fcm", json=fcm_body(comment="new"), headers=tenant.headers())

    assert response.status_code == 200, response.get_json()
    with runtime.database.transaction() as session:
        app = session.get(App, tenant.app_id)
        assert app is not None
        account = providers.fcm_service_account(app, runtime.encryptor)
    assert account is not None and "comment" not in account


def strict_guard(resolver: StubResolver) -> DestinationGuard:
    """The guard of an installation that does not allow private destinations."""
    return DestinationGuard(DestinationPolicy(), resolver=resolver)


def configure_fcm(
    runtime: Runtime, tenant: Tenant, account: dict[str, Any], guard: DestinationGuard
) -> App:
    """The service's own check, with the outbound guard given."""
    with runtime.database.transaction() as session:
        app = session.get(App, tenant.app_id)
        assert app is not None
        providers.configure_fcm(
            session=session,
            app=app,
            service_account=account,
            encryptor=runtime.encryptor,
            destinations=guard,
        )
        return app


@pytest.mark.parametrize(
    "token_uri",
    [
        "http://oauth2.googleapis.com/token",
        "https://tokens.corp.example/token",
        "https://127.0.0.1/token",
        "https://oauth2.googleapis.com:8443/token",
    ],
    ids=["plain-http", "private-address", "loopback", "other-port"],
)
def test_a_token_uri_the_outbound_guard_refuses_is_refused(
    runtime: Runtime, tenant: Tenant, token_uri: str
):
    guard = strict_guard(StubResolver({"tokens.corp.example": ["10.1.2.3"]}))

    with pytest.raises(InvalidRequest) as refused:
        configure_fcm(runtime, tenant, new_service_account(token_uri), guard)

    assert [d.field for d in refused.value.details] == ["serviceAccount.token_uri"]
    assert stored(runtime, tenant) == (None, None)


def test_a_bad_key_and_a_refused_token_uri_are_reported_together(runtime: Runtime, tenant: Tenant):
    account = {**new_service_account("http://oauth2.googleapis.com/token"), "private_key": "x"}

    with pytest.raises(InvalidRequest) as refused:
        configure_fcm(runtime, tenant, account, strict_guard(StubResolver()))

    assert [d.field for d in refused.value.details] == [
        "serviceAccount.private_key",
        "serviceAccount.token_uri",
    ]


def test_a_public_token_uri_passes_the_strict_guard(runtime: Runtime, tenant: Tenant):
    guard = strict_guard(StubResolver({"oauth2.googleapis.com": ["142.250.74.42"]}))

    app = configure_fcm(runtime, tenant, new_service_account(TOKEN_URI), guard)

    assert providers.configured_platforms(app) == {"android"}


def _p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    "private_key",
    [
        "not a key",
        rsa_key().private_pem,
        pem(ec.generate_private_key(ec.SECP384R1()), serialization.PrivateFormat.PKCS8),
        pem(_p256(), serialization.PrivateFormat.TraditionalOpenSSL),
        encrypted_p8(),
        new_apns_key().p8 + new_apns_key().p8,
    ],
    ids=["garbage", "rsa", "p-384", "sec1-not-pkcs8", "passphrase", "two-keys"],
)
def test_an_apns_key_other_than_a_p8_p256_key_is_refused_naming_it(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, private_key: str
):
    body = apns_body(privateKey=private_key)

    response = client.put(f"{URL}/apns", json=body, headers=tenant.headers())

    assert refused_fields(response) == ["privateKey"]
    assert stored(runtime, tenant) == (None, None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"keyId": "ABC123"}, "keyId"),
        ({"keyId": "abcdef1234"}, "keyId"),
        ({"teamId": "ABCDEF12345"}, "teamId"),
        ({"teamId": "ABCDEF123\n"}, "teamId"),
        ({"bundleId": "shop"}, "bundleId"),
        ({"bundleId": "com.acme/shop"}, "bundleId"),
        ({"bundleId": "com." + "a" * 152}, "bundleId"),
        ({"environment": "staging"}, "environment"),
        ({"privateKey": "k" * 4097}, "privateKey"),
        ({"privateKey": ""}, "privateKey"),
        ({"certificate": "..."}, "certificate"),
    ],
)
def test_malformed_apns_details_are_refused_naming_the_field(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, overrides: dict, field: str
):
    response = client.put(f"{URL}/apns", json=apns_body(**overrides), headers=tenant.headers())

    assert refused_fields(response) == [field]
    assert stored(runtime, tenant) == (None, None)


def test_every_missing_apns_detail_is_reported(client: FlaskClient, tenant: Tenant):
    response = client.put(f"{URL}/apns", json={}, headers=tenant.headers())

    assert refused_fields(response) == [
        "bundleId",
        "environment",
        "keyId",
        "privateKey",
        "teamId",
    ]


def test_a_refused_replacement_keeps_the_current_credentials(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    client.put(f"{URL}/apns", json=apns_body(), headers=tenant.headers())
    client.put(f"{URL}/fcm", json=fcm_body(), headers=tenant.headers())
    before = stored(runtime, tenant)

    bad_apns = client.put(
        f"{URL}/apns", json=apns_body(privateKey=rsa_key().private_pem), headers=tenant.headers()
    )
    bad_fcm = client.put(f"{URL}/fcm", json=fcm_body(private_key="x"), headers=tenant.headers())

    assert (bad_apns.status_code, bad_fcm.status_code) == (400, 400)
    assert stored(runtime, tenant) == before
