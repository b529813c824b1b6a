"""Seed 000's `POST /send`: request validation, credentials and the response shape."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant, make_key

SEED_REQUEST = {
    "to": [{"type": "user", "id": "1"}, {"type": "group", "id": ["1", "8"]}],
    "type": "alert",
    "message": "Server-side push",
    "data": {"priority": "high"},
}


def post_send(client: FlaskClient, tenant: Tenant, body: object, **headers: str):
    return client.post("/send", json=body, headers={**tenant.headers(), **headers})


def test_the_seed_example_answers_as_documented_with_nobody_connected(
    client: FlaskClient, tenant: Tenant
):
    response = post_send(client, tenant, SEED_REQUEST, **{"X-Tenant-ID": tenant.app_id})

    assert response.status_code == 200
    assert response.get_json() == {
        "ok": True,
        "tenantId": tenant.app_id,
        "delivered": 0,
        "to": [{"type": "user", "id": "1"}, {"type": "group", "id": ["1", "8"]}],
        "type": "alert",
        "message": "Server-side push",
        "data": '{"priority":"high"}',
    }
    assert list(response.get_json()) == [
        "ok", "tenantId", "delivered", "to", "type", "message", "data"
    ]  # fmt: skip


def test_pre_stringified_data_is_returned_compact(client: FlaskClient, tenant: Tenant):
    body = {**SEED_REQUEST, "data": '{ "priority" : "high", "n": [1, 2] }'}
    assert post_send(client, tenant, body).get_json()["data"] == '{"priority":"high","n":[1,2]}'


def test_type_defaults_to_an_empty_string(client: FlaskClient, tenant: Tenant):
    answer = post_send(client, tenant, {"to": [{"type": "user", "id": "1"}]}).get_json()
    assert (answer["type"], answer["message"], answer["data"]) == ("", None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "no targets"}, "to"),
        ({"to": []}, "to"),
        ({"to": "1"}, "to"),
        ({"to": [{"id": "1"}]}, "to.0.type"),
        ({"to": [{"type": "user"}]}, "to.0.id"),
        ({"to": [{"type": "user", "id": "1"}, {"type": "group", "id": []}]}, "to.1.id"),
        ({"to": [{"type": "user", "id": ""}]}, "to.0.id"),
        ({"to": [{"type": "user", "id": 42}]}, "to.0.id"),
        ({"to": ["1"]}, "to.0"),
    ],
)
def test_missing_empty_or_incomplete_targets_are_400(
    client: FlaskClient, tenant: Tenant, body: dict, field: str
):
    response = post_send(client, tenant, body)
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "ERR_BAD_REQUEST"
    assert [error["field"] for error in response.get_json()["errors"]] == [field]


def test_a_target_type_other_than_user_or_group_is_400_naming_the_target(
    client: FlaskClient, tenant: Tenant
):
    body = {"to": [{"type": "user", "id": "1"}, {"type": "team", "id": "a"}]}
    response = post_send(client, tenant, body)
    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {
            "code": "ERR_BAD_REQUEST",
            "message": 'type must be "user" or "group".',
            "field": "to.1.type",
        }
    ]


def test_data_that_is_a_string_but_not_json_is_400(client: FlaskClient, tenant: Tenant):
    response = post_send(client, tenant, {**SEED_REQUEST, "data": "{not json"})
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "data"


def test_too_many_target_ids_are_refused(client: FlaskClient, tenant: Tenant):
    body = {"to": [{"type": "user", "id": [str(i) for i in range(10_001)]}]}
    response = post_send(client, tenant, body)
    assert (response.status_code, response.get_json()["errors"][0]["field"]) == (400, "to")


def test_send_needs_server_credentials(client: FlaskClient, tenant: Tenant):
    response = client.post("/send", json=SEED_REQUEST)
    assert (response.status_code, response.get_json()["errors"][0]["code"]) == (
        401,
        "api_key_not_provided",
    )


def test_send_needs_the_send_notifications_scope(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    reader = make_key(runtime, tenant, ["read"])
    response = client.post(
        "/send", json=SEED_REQUEST, headers={"Authorization": f"Bearer {reader}"}
    )
    assert response.status_code == 403


def test_an_x_tenant_id_of_another_app_is_forbidden(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    response = post_send(client, tenant, SEED_REQUEST, **{"X-Tenant-ID": other_tenant.app_id})
    assert (response.status_code, response.get_json()["errors"][0]["field"]) == (403, "X-Tenant-ID")


def test_the_realtime_endpoints_are_in_the_openapi_document(client: FlaskClient):
    paths = client.get("/openapi.json").get_json()["paths"]

    assert "requestBody" in paths["/send"]["post"]
    assert {p["name"] for p in paths["/ws"]["get"]["parameters"]} >= {"api_key", "user_hmac"}
    assert {"get", "put", "delete"} <= set(paths["/api/groups/{group_id}"])
    assert {"post", "delete"} <= set(paths["/api/groups/{group_id}/members/{user_id}"])
