"""`/api/groups`: named sets of users, and the groups each user is in."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.groups.service import group_ids_by_user
from app.runtime import Runtime
from app.users.models import User
from tests.support.factories import Tenant, make_key


def put_members(client: FlaskClient, tenant: Tenant, group_id: str, members: list[str]):
    return client.put(
        f"/api/groups/{group_id}", json={"members": members}, headers=tenant.headers()
    )


def users_of(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    with runtime.database.session() as session:
        rows = session.execute(
            select(User.external_id, User.id).where(User.app_id == tenant.app_id)
        )
        return {external_id: user_id for external_id, user_id in rows}


def test_put_creates_a_group_and_the_users_it_names(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    response = put_members(client, tenant, "admins", ["u-2", "u-1", "u-1"])

    assert response.status_code == 200
    body = response.get_json()
    assert (body["id"], body["members"], body["memberCount"]) == ("admins", ["u-1", "u-2"], 2)
    assert set(body) == {"id", "members", "memberCount", "createdAt", "updatedAt"}
    assert set(users_of(runtime, tenant)) == {"u-1", "u-2"}


def test_put_replaces_the_members(client: FlaskClient, tenant: Tenant):
    put_members(client, tenant, "admins", ["u-1", "u-2"])

    body = put_members(client, tenant, "admins", ["u-3"]).get_json()

    assert body["members"] == ["u-3"]


def test_put_with_no_members_keeps_an_empty_group(client: FlaskClient, tenant: Tenant):
    put_members(client, tenant, "admins", ["u-1"])
    assert put_members(client, tenant, "admins", []).get_json()["members"] == []


def test_members_must_be_a_list_of_user_ids(client: FlaskClient, tenant: Tenant):
    response = client.put("/api/groups/g", json={"members": "u-1"}, headers=tenant.headers())
    assert (response.status_code, response.get_json()["errors"][0]["field"]) == (400, "members")
    response = client.put("/api/groups/g", json={"members": ["ok", ""]}, headers=tenant.headers())
    assert (response.status_code, response.get_json()["errors"][0]["field"]) == (400, "members.1")


def test_adding_a_member_is_201_then_200_when_already_there(client: FlaskClient, tenant: Tenant):
    first = client.post("/api/groups/ops/members/u-9", headers=tenant.headers())
    again = client.post("/api/groups/ops/members/u-9", headers=tenant.headers())

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["members"] == ["u-9"]


def test_removing_a_member(client: FlaskClient, tenant: Tenant):
    put_members(client, tenant, "ops", ["u-1", "u-2"])

    response = client.delete("/api/groups/ops/members/u-1", headers=tenant.headers())

    assert response.status_code == 204
    assert client.get("/api/groups/ops", headers=tenant.headers()).get_json()["members"] == ["u-2"]


def test_removing_someone_who_is_not_a_member_is_404(client: FlaskClient, tenant: Tenant):
    put_members(client, tenant, "ops", ["u-1"])
    for path in ("/api/groups/ops/members/u-2", "/api/groups/nope/members/u-1"):
        assert client.delete(path, headers=tenant.headers()).status_code == 404


def test_deleting_a_group_keeps_its_users(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    put_members(client, tenant, "ops", ["u-1"])

    assert client.delete("/api/groups/ops", headers=tenant.headers()).status_code == 204

    assert client.get("/api/groups/ops", headers=tenant.headers()).status_code == 404
    assert set(users_of(runtime, tenant)) == {"u-1"}


def test_listing_groups_pages_by_id_with_member_counts(client: FlaskClient, tenant: Tenant):
    for name, members in (("b", ["u-1"]), ("a", ["u-1", "u-2"]), ("c", [])):
        put_members(client, tenant, name, members)

    body = client.get("/api/groups?perPage=2", headers=tenant.headers()).get_json()
    second = client.get("/api/groups?perPage=2&page=2", headers=tenant.headers()).get_json()

    assert [(g["id"], g["memberCount"]) for g in body["groups"]] == [("a", 2), ("b", 1)]
    assert (body["page"], body["perPage"], body["total"]) == (1, 2, 3)
    assert [g["id"] for g in second["groups"]] == ["c"]
    assert "members" not in body["groups"][0]


def test_an_unknown_group_is_404(client: FlaskClient, tenant: Tenant):
    response = client.get("/api/groups/nope", headers=tenant.headers())
    assert (response.status_code, response.get_json()["errors"][0]["code"]) == (
        404,
        "ERR_GROUP_NOT_FOUND",
    )


def test_groups_of_another_app_are_invisible(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    put_members(client, other_tenant, "ops", ["u-1"])

    assert client.get("/api/groups/ops", headers=tenant.headers()).status_code == 404
    assert client.get("/api/groups", headers=tenant.headers()).get_json()["total"] == 0


def test_reading_needs_read_and_changing_needs_manage_users(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    reader = {"Authorization": f"Bearer {make_key(runtime, tenant, ['read'])}"}
    put_members(client, tenant, "ops", ["u-1"])

    assert client.get("/api/groups/ops", headers=reader).status_code == 200
    assert client.put("/api/groups/ops", json={"members": []}, headers=reader).status_code == 403
    assert client.post("/api/groups/ops/members/u-2", headers=reader).status_code == 403


def test_group_ids_by_user_lists_each_users_groups(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    put_members(client, tenant, "b-team", ["u-1"])
    put_members(client, tenant, "a-team", ["u-1", "u-2"])
    put_members(client, other_tenant, "x-team", ["u-1"])
    ids = users_of(runtime, tenant)

    with runtime.database.session() as session:
        groups = group_ids_by_user(
            session, app_id=tenant.app_id, user_ids=[ids["u-1"], ids["u-2"], "nobody"]
        )

    assert groups == {ids["u-1"]: ["a-team", "b-team"], ids["u-2"]: ["a-team"], "nobody": []}


def test_a_large_group_is_stored_in_one_request(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    members = [f"user-{i}" for i in range(2_000)]

    body = put_members(client, tenant, "everyone", members).get_json()

    assert body["memberCount"] == 2_000
    with runtime.database.session() as session:
        count = session.scalar(
            select(func.count()).select_from(User).where(User.app_id == tenant.app_id)
        )
    assert count == 2_000
