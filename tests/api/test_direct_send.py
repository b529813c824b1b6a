"""POST /api/v1/notifications/send (seed 003) and the allow-list every send path shares."""

from __future__ import annotations

import time

import jwt
import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template, make_key
from tests.support.sinks import SmtpSink, wait_until

URL = "/api/v1/notifications/send"
SEED_EXAMPLE = {
    "channels": ["email"],
    "to": ["alice@example.com", "bob@outside.com"],
    "subject": "Launch deck ready for review",
    "body": "The updated deck is attached to the project workspace.",
    "body_html": "<p>The updated deck is attached to the project workspace.</p>",
}


@pytest.fixture
def allow_example_com(client: FlaskClient, tenant: Tenant) -> None:
    body = {
        "enabled": True,
        "domains": ["example.com"],
        "emails": [],
        "allowRegisteredUsers": False,
    }
    assert (
        client.put("/api/apps/current/allow_list", json=body, headers=tenant.headers()).status_code
        == 200
    )


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


@pytest.mark.parametrize(
    "address", ["alice@example.com.evil.io", "alice@evilexample.com", "alice@example.co"]
)
def test_look_alike_domains_are_not_in_the_allow_list(
    client: FlaskClient, tenant: Tenant, allow_example_com, address
):
    response = client.post(
        URL, json={**SEED_EXAMPLE, "to": ["ok@example.com", address]}, headers=tenant.headers()
    )

    assert response.get_json()["data"]["rejected_recipients"]["email"] == [
        {"recipient": address, "reason": "not_in_allow_list"}
    ]


def test_wildcard_domains_match_subdomains_at_any_depth_but_not_the_domain(
    client: FlaskClient, tenant: Tenant
):
    client.put(
        "/api/apps/current/allow_list",
        json={"enabled": True, "domains": ["*.example.org"]},
        headers=tenant.headers(),
    )

    to = ["a@mail.example.org", "b@x.y.example.org", "c@example.org"]
    data = client.post(URL, json={**SEED_EXAMPLE, "to": to}, headers=tenant.headers()).get_json()[
        "data"
    ]

    assert data["accepted_recipients"]["email"] == ["a@mail.example.org", "b@x.y.example.org"]
    assert data["rejected_recipients"]["email"] == [
        {"recipient": "c@example.org", "reason": "not_in_allow_list"}
    ]


def test_domains_compare_case_insensitively_and_in_idna_form(client: FlaskClient, tenant: Tenant):
    client.put(
        "/api/apps/current/allow_list",
        json={"enabled": True, "domains": ["bücher.example"]},
        headers=tenant.headers(),
    )

    to = ["Anna@BÜCHER.example", "ben@xn--bcher-kva.example"]
    data = client.post(URL, json={**SEED_EXAMPLE, "to": to}, headers=tenant.headers()).get_json()[
        "data"
    ]

    assert data["accepted_recipients"]["email"] == to


def test_allow_list_reads_back_in_canonical_form(client: FlaskClient, tenant: Tenant):
    body = {
        "enabled": True,
        "domains": ["Example.COM", "*.bücher.example"],
        "emails": ["Boss@Partner.io"],
        "allowRegisteredUsers": True,
    }

    saved = client.put(
        "/api/apps/current/allow_list", json=body, headers=tenant.headers()
    ).get_json()

    assert saved == {
        "enabled": True,
        "domains": ["*.xn--bcher-kva.example", "example.com"],
        "emails": ["Boss@partner.io"],
        "allowRegisteredUsers": True,
    }
    assert client.get("/api/apps/current/allow_list", headers=tenant.headers()).get_json() == saved


def test_allow_list_changes_need_the_admin_scope(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    secret = make_key(runtime, tenant, ["read", "send_notifications"])

    response = client.put(
        "/api/apps/current/allow_list",
        json={"enabled": True},
        headers={"Authorization": f"Bearer {secret}"},
    )

    assert response.status_code == 403


def test_invalid_allow_list_entries_are_named(client: FlaskClient, tenant: Tenant):
    response = client.put(
        "/api/apps/current/allow_list",
        json={"enabled": True, "domains": ["ok.com", "not a domain"], "emails": ["nope"]},
        headers=tenant.headers(),
    )

    assert response.status_code == 400
    assert {e["field"] for e in response.get_json()["errors"]} == {"domains.1", "emails.0"}


def test_the_caller_is_always_allowed(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, allow_example_com
):
    secret = make_key(runtime, tenant, ["send_notifications"], owner_email="me@mycorp.io")

    data = client.post(
        URL,
        json={**SEED_EXAMPLE, "to": ["me@mycorp.io"]},
        headers={"Authorization": f"Bearer {secret}"},
    ).get_json()["data"]

    assert data["accepted_recipients"] == {"email": ["me@mycorp.io"]}


def test_registered_users_pass_only_when_allowed(client: FlaskClient, tenant: Tenant):
    client.post(
        "/users", json={"user": {"email": "member@elsewhere.net"}}, headers=tenant.headers()
    )
    rules = {"enabled": True, "domains": ["example.com"], "emails": []}
    request = {**SEED_EXAMPLE, "to": ["ok@example.com", "member@elsewhere.net"]}

    client.put(
        "/api/apps/current/allow_list",
        json={**rules, "allowRegisteredUsers": False},
        headers=tenant.headers(),
    )
    refused = client.post(URL, json=request, headers=tenant.headers()).get_json()["data"]
    client.put(
        "/api/apps/current/allow_list",
        json={**rules, "allowRegisteredUsers": True},
        headers=tenant.headers(),
    )
    allowed = client.post(URL, json=request, headers=tenant.headers()).get_json()["data"]

    assert refused["rejected_recipients"]["email"][0]["recipient"] == "member@elsewhere.net"
    assert allowed["accepted_recipients"]["email"] == ["ok@example.com", "member@elsewhere.net"]


def test_disabled_allow_list_allows_everyone(client: FlaskClient, tenant: Tenant):
    data = client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers()).get_json()["data"]

    assert data["accepted_recipients"]["email"] == ["alice@example.com", "bob@outside.com"]


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


def test_nobody_allowed_is_422_naming_each_recipient(
    client: FlaskClient, tenant: Tenant, allow_example_com
):
    response = client.post(
        URL, json={**SEED_EXAMPLE, "to": ["x@outside.com", "bad"]}, headers=tenant.headers()
    )

    assert response.status_code == 422
    assert [(e["code"], e["field"]) for e in response.get_json()["errors"]] == [
        ("not_in_allow_list", "to.0"),
        ("invalid_email", "to.1"),
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


def templated_send(client: FlaskClient, tenant: Tenant, targets: list, mode: str):
    """Seed 004's send of the order template, for the allow-list tests."""
    approved_template(client, tenant)
    request = {
        "template": {
            "key": "order-confirmation",
            "variables": {"customerName": "J", "orderId": "1"},
        },
        "targets": targets,
        "mode": mode,
    }
    return client.post("/api/notifications/send", json=request, headers=tenant.headers())


def test_templated_sends_apply_the_same_allow_list(
    client: FlaskClient, tenant: Tenant, allow_example_com
):
    targets = [
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "b@outside.com"},
        "c",
    ]

    body = templated_send(client, tenant, targets, "batch").get_json()

    assert body["targets"] == 2
    assert body["rejected"] == [{"target": "b", "reason": "not_in_allow_list"}]


def test_templated_send_with_nobody_allowed_is_422(
    client: FlaskClient, tenant: Tenant, allow_example_com
):
    targets = [{"external_id": "b", "email": "b@outside.com"}]

    assert templated_send(client, tenant, targets, "realtime").status_code == 422
