"""User calls: public key + user id/email + HMAC (or the secret), per seed 001."""

from __future__ import annotations

import pytest
from flask import Flask

from app.auth import current_principal, user_call
from app.refusals import HeraldError
from app.runtime import Runtime
from app.security import user_hmac
from app.users import service as users
from tests.support.factories import Tenant, make_key


@user_call
def _whoami() -> str:
    principal = current_principal()
    return principal.user.external_id or principal.user.email


def call_as(app: Flask, headers: dict[str, str]) -> str | tuple[int, str]:
    with app.test_request_context("/notifications", headers=headers):
        try:
            return _whoami()
        except HeraldError as exc:
            return exc.status, exc.code


def test_correct_hmac_of_external_id_authenticates_and_creates_the_user(app: Flask, tenant: Tenant):
    assert call_as(app, tenant.user_headers("u-1")) == "u-1"


def test_correct_hmac_of_email_authenticates(app: Flask, tenant: Tenant):
    assert call_as(app, tenant.user_headers(email="jane@example.com")) == "jane@example.com"


def test_magicbell_header_spellings_are_accepted(app: Flask, tenant: Tenant):
    headers = {
        "X-MAGICBELL-API-KEY": tenant.api_key,
        "X-MAGICBELL-USER-EXTERNAL-ID": "u-2",
        "X-MAGICBELL-USER-HMAC": user_hmac(tenant.secret, "u-2"),
    }
    assert call_as(app, headers) == "u-2"


def test_external_id_wins_over_email(app: Flask, tenant: Tenant):
    headers = {**tenant.user_headers("u-3"), "X-User-Email": "other@example.com"}
    assert call_as(app, headers) == "u-3"


def test_wrong_hmac_is_forbidden(app: Flask, tenant: Tenant):
    headers = {
        **tenant.user_headers("u-1"),
        "X-User-HMAC": user_hmac(tenant.secret, "someone-else"),
    }
    assert call_as(app, headers) == (403, "forbidden")


def test_wrong_hmac_is_forbidden_even_when_hmac_is_optional(
    app: Flask, runtime: Runtime, tenant: Tenant
):
    _set_hmac_required(runtime, tenant, False)
    headers = {**tenant.user_headers("u-1"), "X-User-HMAC": "bm9wZQ=="}
    assert call_as(app, headers) == (403, "forbidden")


def test_missing_hmac_is_refused_when_required(app: Flask, tenant: Tenant):
    headers = {"X-API-Key": tenant.api_key, "X-User-External-ID": "u-1"}
    assert call_as(app, headers) == (401, "neither_user_hmac_nor_api_secret_provided")


def test_missing_hmac_is_allowed_when_not_required(app: Flask, runtime: Runtime, tenant: Tenant):
    _set_hmac_required(runtime, tenant, False)
    assert call_as(app, {"X-API-Key": tenant.api_key, "X-User-External-ID": "u-9"}) == "u-9"


def test_no_user_identity_is_user_email_not_provided(app: Flask, tenant: Tenant):
    assert call_as(app, {"X-API-Key": tenant.api_key}) == (400, "user_email_not_provided")


def test_no_api_key_is_api_key_not_provided(app: Flask, tenant: Tenant):
    assert call_as(app, {"X-User-External-ID": "u-1"}) == (401, "api_key_not_provided")


def test_unknown_api_key_is_incorrect_api_key(app: Flask, tenant: Tenant):
    assert call_as(app, {"X-API-Key": "pk_x", "X-User-External-ID": "u"}) == (
        401,
        "incorrect_api_key",
    )


@pytest.mark.parametrize(
    "scopes, expected",
    [(["read"], "u-5"), (["send_notifications"], (401, "api_secret_is_incorrect"))],
)
def test_a_secret_with_read_may_stand_in_for_the_hmac(
    app: Flask, runtime: Runtime, tenant: Tenant, scopes, expected
):
    secret = make_key(runtime, tenant, scopes)
    headers = {"X-API-Key": tenant.api_key, "X-User-External-ID": "u-5", "X-API-Secret": secret}
    assert call_as(app, headers) == expected


def test_primary_secret_stands_in_for_the_hmac(app: Flask, tenant: Tenant):
    headers = {
        "X-API-Key": tenant.api_key,
        "X-User-External-ID": "u-6",
        "X-API-Secret": tenant.secret,
    }
    assert call_as(app, headers) == "u-6"


def test_hmac_made_with_another_apps_secret_is_forbidden(
    app: Flask, tenant: Tenant, other_tenant: Tenant
):
    headers = {
        "X-API-Key": tenant.api_key,
        "X-User-External-ID": "u-1",
        "X-User-HMAC": user_hmac(other_tenant.secret, "u-1"),
    }
    assert call_as(app, headers) == (403, "forbidden")


def _set_hmac_required(runtime: Runtime, tenant: Tenant, value: bool) -> None:
    from app.tenants.models import App

    with runtime.database.transaction() as session:
        session.get(App, tenant.app_id).hmac_required = value


def test_a_call_naming_another_app_as_tenant_creates_no_user(
    app: Flask, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    headers = {**tenant.user_headers("ghost"), "X-Tenant-ID": other_tenant.app_id}

    refused = call_as(app, headers)

    assert refused == (403, "forbidden")
    with runtime.database.session() as session:
        assert users.find_user(session=session, app_id=tenant.app_id, external_id="ghost") is None


@pytest.mark.parametrize("header", ["X-User-External-ID", "X-User-Email"])
def test_an_identity_longer_than_255_characters_is_400(app: Flask, tenant: Tenant, header: str):
    identity = "u" * 300
    headers = {
        "X-API-Key": tenant.api_key,
        header: identity,
        "X-User-HMAC": user_hmac(tenant.secret, identity),
    }

    assert call_as(app, headers) == (400, "ERR_BAD_REQUEST")
