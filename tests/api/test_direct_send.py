"""POST /api/v1/notifications/send (seed 003): its answer, the recipients it refuses and why,
its bad requests, and the API keys and OAuth2 tokens that may send. The allow-list it applies
is specified in test_send_allow_list.py."""

from __future__ import annotations

import time

import jwt
import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.direct_send import SEED_EXAMPLE, URL
from tests.support.factories import Tenant, make_key
from tests.support.sinks import SmtpSink, wait_until


def test_seed_example_accepts_alice_and_rejects_bob(
    client: FlaskClient, tenant: Tenant, allow_example_com
):
    response = client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers())

    assert response.status_code == 202
    data = response.get_json()["data"]
    assert set(data) == {
        "notification_id",
        "queued_at",
        "channels",
        "accepted_recipients",
        "rejected_recipients",
    }
    assert data["channels"] == ["email"]
    assert data["accepted_recipients"] == {"email": ["alice@example.com"]}
    assert data["rejected_recipients"] == {
        "email": [{"recipient": "bob@outside.com", "reason": "not_in_allow_list"}]
    }
    assert data["queued_at"].endswith("Z")


def test_exactly_the_accepted_recipients_get_the_email(
    client: FlaskClient, tenant: Tenant, allow_example_com, smtp_sink: SmtpSink, worker
):
    data = client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers()).get_json()["data"]

    wait_until(lambda: smtp_sink.recipients())
    progress = wait_until(
        lambda: (
            (
                p := client.get(
                    f"/api/notifications/{data['notification_id']}", headers=tenant.headers()
                ).get_json()
            )["status"]
            == "completed"
            and p
        )
    )
    assert smtp_sink.recipients() == ["alice@example.com"]
    [message] = smtp_sink.received_by("alice@example.com")
    assert message["Subject"] == "Launch deck ready for review"
    assert message.get_body(("html",)).get_content().strip() == SEED_EXAMPLE["body_html"]
    assert progress["progress"]["email"]["sent"] == 1


@pytest.mark.parametrize(
    "address", ["alice", "alice@", "alice@example.com.", '"alice"@example.com', "a b@example.com"]
)
def test_invalid_addresses_are_rejected_as_invalid_email(
    client: FlaskClient, tenant: Tenant, address: str
):
    response = client.post(
        URL, json={**SEED_EXAMPLE, "to": ["ok@example.com", address]}, headers=tenant.headers()
    )

    rejected = response.get_json()["data"]["rejected_recipients"]["email"]
    assert rejected == [{"recipient": address, "reason": "invalid_email"}]


def test_fifty_recipients_pass_and_the_fifty_first_is_max_recipients_exceeded(
    client: FlaskClient, tenant: Tenant
):
    to = [f"r{i}@example.com" for i in range(51)] + ["r0@example.com", "also-bad"]

    data = client.post(URL, json={**SEED_EXAMPLE, "to": to}, headers=tenant.headers()).get_json()[
        "data"
    ]

    assert len(data["accepted_recipients"]["email"]) == 50
    assert data["rejected_recipients"]["email"] == [
        {"recipient": "r50@example.com", "reason": "max_recipients_exceeded"},
        {"recipient": "also-bad", "reason": "max_recipients_exceeded"},
    ]


def test_push_and_in_app_need_known_users(client: FlaskClient, tenant: Tenant):
    client.post(
        "/users",
        json={"user": {"external_id": "known", "email": "known@example.com"}},
        headers=tenant.headers(),
    )
    request = {**SEED_EXAMPLE, "channels": ["in_app", "push"], "to": ["known", "stranger"]}
    del request["body_html"]

    data = client.post(URL, json=request, headers=tenant.headers()).get_json()["data"]

    assert data["accepted_recipients"] == {"in_app": ["known"], "push": ["known"]}
    assert data["rejected_recipients"]["push"] == [
        {"recipient": "stranger", "reason": "unknown_recipient"}
    ]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"channels": ["email", "fax"]}, "channels.1"),
        ({"channels": ["push"]}, "body_html"),
        ({"to": None}, "to"),
        ({"subject": None}, "subject"),
        ({"body": None}, "body"),
        ({"cc": ["x@example.com"]}, "cc"),
    ],
)
def test_bad_requests_are_400(client: FlaskClient, tenant: Tenant, change: dict, field: str):
    request = {k: v for k, v in {**SEED_EXAMPLE, **change}.items() if v is not None}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert response.status_code == 400
    assert field in {e.get("field") for e in response.get_json()["errors"]}


def test_missing_scope_is_403(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    secret = make_key(runtime, tenant, ["read"])

    assert (
        client.post(
            URL, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 403
    )


def test_bad_credentials_are_401(client: FlaskClient, tenant: Tenant):
    assert (
        client.post(URL, json=SEED_EXAMPLE, headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )


@pytest.fixture
def oauth_tenant(client: FlaskClient, tenant: Tenant) -> Tenant:
    config = {"issuer": "https://idp.test", "audience": "herald", "hs256Secret": "s" * 32}
    client.patch("/api/apps/current", json={"oauth2": config}, headers=tenant.headers())
    return tenant


def token(tenant: Tenant, **claims) -> str:
    body = {
        "iss": "https://idp.test",
        "aud": "herald",
        "app_id": tenant.app_id,
        "exp": int(time.time()) + 60,
        "scope": "send_notifications read",
    }
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, "s" * 32, algorithm="HS256")


def test_jwt_with_the_scope_may_send(client: FlaskClient, oauth_tenant: Tenant):
    response = client.post(
        URL, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {token(oauth_tenant)}"}
    )

    assert response.status_code == 202


def test_jwt_without_the_scope_is_403(client: FlaskClient, oauth_tenant: Tenant):
    response = client.post(
        URL,
        json=SEED_EXAMPLE,
        headers={"Authorization": f"Bearer {token(oauth_tenant, scope='read')}"},
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 10},
        {"aud": "someone-else"},
        {"iss": "https://evil.test"},
        {"exp": None},
        {"app_id": "another-app"},
    ],
)
def test_invalid_jwts_are_401(client: FlaskClient, oauth_tenant: Tenant, claims: dict):
    response = client.post(
        URL, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {token(oauth_tenant, **claims)}"}
    )

    assert response.status_code == 401


def test_jwt_signed_with_another_key_is_401(client: FlaskClient, oauth_tenant: Tenant):
    forged = jwt.encode(
        {
            "app_id": oauth_tenant.app_id,
            "exp": int(time.time()) + 60,
            "scope": "send_notifications",
            "iss": "https://idp.test",
            "aud": "herald",
        },
        "x" * 32,
        algorithm="HS256",
    )

    assert (
        client.post(
            URL, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {forged}"}
        ).status_code
        == 401
    )
