"""`/api/suppressions`: an app's suppression list, listed, filtered, added to and taken from."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.runtime import Runtime
from app.suppressions.models import SuppressionReason
from app.suppressions.service import suppress
from tests.support.deliverability import suppression_list
from tests.support.factories import Tenant, make_key

URL = "/api/suppressions"


def add(client: FlaskClient, tenant: Tenant, emails: list[str], headers: dict | None = None):
    return client.post(URL, json={"emails": emails}, headers=headers or tenant.headers())


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def bounced(runtime: Runtime, tenant: Tenant, email: str) -> None:
    with runtime.database.transaction() as session:
        reason = SuppressionReason.HARD_BOUNCE
        suppress(session, app_id=tenant.app_id, emails=[email], reason=reason)


def test_post_adds_manual_entries_once_each_and_answers_them(client: FlaskClient, tenant: Tenant):
    response = add(client, tenant, ["Ann@Example.COM", "bo@example.com", "ann@example.com"])

    assert response.status_code == 201
    entries = response.get_json()["suppressions"]
    assert [(e["email"], e["reason"]) for e in entries] == [
        ("ann@example.com", "manual"),
        ("bo@example.com", "manual"),
    ]
    assert all(set(e) == {"email", "reason", "createdAt"} for e in entries)
    assert entries[0]["createdAt"].endswith("Z")


def test_an_address_already_listed_keeps_its_reason_and_date(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    bounced(runtime, tenant, "ann@example.com")
    [before] = suppression_list(client, tenant)

    [entry] = add(client, tenant, ["ann@example.com"]).get_json()["suppressions"]

    assert entry == before
    assert entry["reason"] == "hard_bounce"


def test_get_lists_newest_first_pages_and_filters_by_reason(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    bounced(runtime, tenant, "gone@example.com")
    add(client, tenant, ["ann@example.com"])
    add(client, tenant, ["bo@example.com"])

    body = client.get(f"{URL}?perPage=2", headers=tenant.headers()).get_json()
    second = client.get(f"{URL}?perPage=2&page=2", headers=tenant.headers()).get_json()

    assert [e["email"] for e in body["suppressions"]] == ["bo@example.com", "ann@example.com"]
    assert (body["page"], body["perPage"], body["total"]) == (1, 2, 3)
    assert [e["email"] for e in second["suppressions"]] == ["gone@example.com"]
    filtered = suppression_list(client, tenant, "?reason=hard_bounce")
    assert [(e["email"], e["reason"]) for e in filtered] == [("gone@example.com", "hard_bounce")]
    assert [e["email"] for e in suppression_list(client, tenant, "?reason=unsubscribed")] == []


def test_invalid_input_is_400_naming_the_field(client: FlaskClient, tenant: Tenant):
    unknown = client.get(f"{URL}?reason=bounced", headers=tenant.headers())
    not_an_address = add(client, tenant, ["ann@example.com", "not an address"])
    empty = add(client, tenant, [])

    assert unknown.status_code == 400
    assert unknown.get_json()["errors"][0]["field"] == "reason"
    assert not_an_address.status_code == 400
    assert not_an_address.get_json()["errors"][0]["field"] == "emails.1"
    assert empty.status_code == 400
    assert suppression_list(client, tenant) == []


def test_delete_takes_an_address_off_the_list_and_404s_when_absent(
    client: FlaskClient, tenant: Tenant
):
    add(client, tenant, ["ann@example.com", "bo@example.com"])

    deleted = client.delete(f"{URL}/Ann@Example.com", headers=tenant.headers())
    again = client.delete(f"{URL}/ann@example.com", headers=tenant.headers())

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert again.get_json()["errors"][0]["code"] == "ERR_SUPPRESSION_NOT_FOUND"
    assert [e["email"] for e in suppression_list(client, tenant)] == ["bo@example.com"]


def test_every_operation_needs_the_manage_users_scope(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    reader = bearer(make_key(runtime, tenant, ["read", "send_notifications"]))
    manager = bearer(make_key(runtime, tenant, ["manage_users"]))

    assert client.get(URL, headers=reader).status_code == 403
    assert add(client, tenant, ["ann@example.com"], headers=reader).status_code == 403
    assert client.delete(f"{URL}/ann@example.com", headers=reader).status_code == 403
    assert client.get(URL).status_code == 401
    assert add(client, tenant, ["ann@example.com"], headers=manager).status_code == 201
    assert client.get(URL, headers=manager).get_json()["total"] == 1
    assert client.delete(f"{URL}/ann@example.com", headers=manager).status_code == 204


def test_another_apps_list_is_invisible(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    add(client, other_tenant, ["ann@example.com"])
    bounced(runtime, other_tenant, "gone@example.com")

    assert suppression_list(client, tenant) == []
    assert client.delete(f"{URL}/ann@example.com", headers=tenant.headers()).status_code == 404
    assert len(suppression_list(client, other_tenant)) == 2
