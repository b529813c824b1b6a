"""The allow-list every send path shares: the addresses and domains it admits (wildcards, case
and IDNA forms, the caller, registered users), how it is set and read back, and the refusals of
the direct send API (seed 003) and of templated sends (seed 004) it makes."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.direct_send import SEED_EXAMPLE, URL
from tests.support.factories import Tenant, approved_template, make_key
from tests.support.pipeline import SEND, send_request


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


def templated_send(client: FlaskClient, tenant: Tenant, targets: list, mode: str):
    """Seed 004's send of the order template, for the allow-list tests."""
    approved_template(client, tenant)
    request = send_request(targets, mode, variables={"customerName": "J", "orderId": "1"})
    return client.post(SEND, json=request, headers=tenant.headers())


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
