"""`/api/templates`: create, read, versions, list, archive, isolation, preview. What a save
refuses is specified in test_templates_api_refusals.py."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.runtime import Runtime
from templates_store import service
from templates_store.errors import TemplateNotFound
from tests.support.factories import Tenant
from tests.support.template_api import URL, create, errors
from tests.support.template_factories import ORDER_CHANNELS, template_document


def test_create_answers_201_with_a_draft_version_1(client: FlaskClient, tenant: Tenant):
    response = client.post(URL, json=template_document(), headers=tenant.headers())

    assert response.status_code == 201
    body = response.get_json()
    assert body["key"] == "order-confirmation" and len(body["id"]) == 36
    assert (body["version"], body["status"], body["approvedVersion"]) == (1, "draft", None)
    assert body["archived"] is False
    assert body["name"] == "Order confirmation" and body["tag"] == "orders"
    assert body["description"] == "Sent when an order is placed."
    assert body["channels"] == ORDER_CHANNELS
    assert body["variableSchema"]["properties"]["orderId"]["pattern"] == "^ORD-[0-9]+$"
    assert body["createdAt"].endswith("+00:00") and body["updatedAt"]
    assert body["createdBy"] and body["submittedBy"] is None


def test_a_template_is_read_by_key_or_by_id(client: FlaskClient, tenant: Tenant):
    created = create(client, tenant)

    by_key = client.get(f"{URL}/order-confirmation", headers=tenant.headers())
    by_id = client.get(f"{URL}/{created['id']}", headers=tenant.headers())

    assert by_key.status_code == by_id.status_code == 200
    assert by_key.get_json() == by_id.get_json() == created


def test_an_unknown_template_is_404(client: FlaskClient, tenant: Tenant):
    response = client.get(f"{URL}/nope", headers=tenant.headers())

    assert response.status_code == 404
    assert errors(response)[0]["code"] == "ERR_TEMPLATE_NOT_FOUND"


def test_put_creates_a_new_version_and_keeps_the_old_one(client: FlaskClient, tenant: Tenant):
    create(client, tenant)
    document = template_document(name="Order confirmed (v2)")
    del document["key"]

    response = client.put(f"{URL}/order-confirmation", json=document, headers=tenant.headers())

    assert response.status_code == 201
    assert (response.get_json()["version"], response.get_json()["status"]) == (2, "draft")
    latest = client.get(f"{URL}/order-confirmation", headers=tenant.headers()).get_json()
    first = client.get(f"{URL}/order-confirmation/versions/1", headers=tenant.headers())
    assert latest["name"] == "Order confirmed (v2)" and latest["version"] == 2
    assert first.get_json()["name"] == "Order confirmation" and first.get_json()["version"] == 1


def test_version_history_is_newest_first_and_paginated(client: FlaskClient, tenant: Tenant):
    create(client, tenant)
    for name in ("second", "third"):
        client.put(
            f"{URL}/order-confirmation", json=template_document(name=name), headers=tenant.headers()
        )

    page1 = client.get(f"{URL}/order-confirmation/versions?perPage=2", headers=tenant.headers())
    page2 = client.get(
        f"{URL}/order-confirmation/versions?perPage=2&page=2", headers=tenant.headers()
    )

    assert [v["version"] for v in page1.get_json()["versions"]] == [3, 2]
    assert [v["name"] for v in page2.get_json()["versions"]] == ["Order confirmation"]
    assert {k: page2.get_json()[k] for k in ("page", "perPage", "total")} == {
        "page": 2,
        "perPage": 2,
        "total": 3,
    }


def test_an_unknown_version_is_404(client: FlaskClient, tenant: Tenant):
    create(client, tenant)

    response = client.get(f"{URL}/order-confirmation/versions/9", headers=tenant.headers())

    assert response.status_code == 404
    assert errors(response)[0]["code"] == "ERR_VERSION_NOT_FOUND"


def test_a_version_number_beyond_what_the_database_holds_is_404(
    client: FlaskClient, tenant: Tenant
):
    create(client, tenant)

    response = client.get(f"{URL}/order-confirmation/versions/{2**47}", headers=tenant.headers())

    assert response.status_code == 404
    assert errors(response)[0]["code"] == "ERR_VERSION_NOT_FOUND"


def test_the_key_of_a_template_cannot_change(client: FlaskClient, tenant: Tenant):
    create(client, tenant)

    response = client.put(
        f"{URL}/order-confirmation", json=template_document(key="renamed"), headers=tenant.headers()
    )

    assert response.status_code == 400
    assert errors(response)[0]["field"] == "key"


def test_list_is_paginated_and_filtered_by_status_and_tag(client: FlaskClient, tenant: Tenant):
    create(client, tenant, key="a-orders")
    create(client, tenant, key="b-news", tag="marketing")
    create(client, tenant, key="c-orders")
    client.post(f"{URL}/c-orders/submit", headers=tenant.headers())

    def keys(query: str) -> list[str]:
        response = client.get(f"{URL}?{query}", headers=tenant.headers())
        assert response.status_code == 200
        return [t["key"] for t in response.get_json()["templates"]]

    assert keys("") == ["a-orders", "b-news", "c-orders"]
    assert keys("perPage=2&page=2") == ["c-orders"]
    assert keys("status=pending") == ["c-orders"]
    assert keys("status=draft,pending&tag=orders") == ["a-orders", "c-orders"]
    assert keys("tag[]=marketing") == ["b-news"]
    listing = client.get(f"{URL}?perPage=2", headers=tenant.headers()).get_json()
    assert (listing["page"], listing["perPage"], listing["total"]) == (1, 2, 3)


@pytest.mark.parametrize(
    ("query", "field"),
    [("perPage=0", "perPage"), ("perPage=101", "perPage"), ("status=x", "status")],
)
def test_list_refuses_bad_query_parameters(
    client: FlaskClient, tenant: Tenant, query: str, field: str
):
    response = client.get(f"{URL}?{query}", headers=tenant.headers())

    assert response.status_code == 400
    assert errors(response)[0]["field"] == field


def test_archived_templates_stay_readable_but_are_not_sendable(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    create(client, tenant)
    client.post(f"{URL}/order-confirmation/submit", headers=tenant.headers())
    client.post(f"{URL}/order-confirmation/approve", headers=tenant.headers())

    response = client.delete(f"{URL}/order-confirmation", headers=tenant.headers())

    assert response.status_code == 204 and response.get_data() == b""
    shown = client.get(f"{URL}/order-confirmation", headers=tenant.headers()).get_json()
    assert shown["archived"] is True and shown["approvedVersion"] == 1
    assert client.delete(f"{URL}/order-confirmation", headers=tenant.headers()).status_code == 204
    listed = client.get(URL, headers=tenant.headers()).get_json()["templates"]
    archived = client.get(f"{URL}?archived=true", headers=tenant.headers()).get_json()
    assert listed == [] and [t["key"] for t in archived["templates"]] == ["order-confirmation"]
    with runtime.database.transaction() as session, pytest.raises(TemplateNotFound) as raised:
        service.sendable_version(session, app_id=tenant.app_id, key="order-confirmation")
    assert raised.value.details[0].code == "ERR_TEMPLATE_NOT_FOUND"


def test_an_archived_template_cannot_be_edited(client: FlaskClient, tenant: Tenant):
    create(client, tenant)
    client.delete(f"{URL}/order-confirmation", headers=tenant.headers())

    edit = client.put(
        f"{URL}/order-confirmation", json=template_document(), headers=tenant.headers()
    )
    submit = client.post(f"{URL}/order-confirmation/submit", headers=tenant.headers())

    assert (edit.status_code, submit.status_code) == (409, 409)
    assert errors(edit)[0]["code"] == errors(submit)[0]["code"] == "ERR_TEMPLATE_ARCHIVED"


def test_templates_of_one_app_are_invisible_to_another(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    created = create(client, tenant)
    other = other_tenant.headers()

    for ref in ("order-confirmation", created["id"]):
        assert client.get(f"{URL}/{ref}", headers=other).status_code == 404
        edit = client.put(f"{URL}/{ref}", json=template_document(), headers=other)
        assert edit.status_code == 404
        assert client.post(f"{URL}/{ref}/submit", headers=other).status_code == 404
        assert client.delete(f"{URL}/{ref}", headers=other).status_code == 404
    assert client.get(URL, headers=other).get_json()["templates"] == []
    mine = client.post(URL, json=template_document(), headers=other)
    assert mine.status_code == 201 and mine.get_json()["id"] != created["id"]
    assert client.get(f"{URL}/order-confirmation", headers=tenant.headers()).get_json() == created


def test_preview_renders_every_channel_for_the_given_user(client: FlaskClient, tenant: Tenant):
    create(client, tenant)
    body = {
        "variables": {"customerName": "Jane & Co", "orderId": "ORD-7"},
        "user": {"first_name": "<Jane>", "email": "jane@shop.test"},
    }

    response = client.post(f"{URL}/order-confirmation/preview", json=body, headers=tenant.headers())

    assert response.status_code == 200
    rendered = response.get_json()
    assert rendered["version"] == 1
    assert set(rendered["channels"]) == {"in_app", "email", "push"}
    assert rendered["channels"]["in_app"]["title"] == "Order ORD-7 confirmed"
    assert rendered["channels"]["email"]["html"] == (
        "<p>Hi &lt;Jane&gt;,</p>\n<p>Thanks Jane &amp; Co.</p>"
    )
    assert rendered["channels"]["email"]["text"] == "Hi <Jane>,\n\nThanks Jane & Co."
    assert rendered["channels"]["push"]["data"] == {"orderId": "ORD-7"}


def test_preview_answers_the_validation_errors_a_send_would(client: FlaskClient, tenant: Tenant):
    create(client, tenant)

    response = client.post(
        f"{URL}/order-confirmation/preview",
        json={"variables": {"customerName": "Jane", "orderId": "12", "coupon": "X"}},
        headers=tenant.headers(),
    )

    assert response.status_code == 400
    assert [(e["code"], e["field"]) for e in errors(response)] == [
        ("ERR_INVALID_VARIABLES", "variables.coupon"),
        ("ERR_INVALID_VARIABLES", "variables.orderId"),
    ]


def test_preview_renders_the_version_asked_for(client: FlaskClient, tenant: Tenant):
    create(client, tenant)
    channels = {"in_app": {"title": "v2 for {{ orderId }}"}}
    client.put(
        f"{URL}/order-confirmation",
        json=template_document(channels=channels),
        headers=tenant.headers(),
    )
    body = {"variables": {"customerName": "Jane", "orderId": "ORD-1"}}

    latest = client.post(f"{URL}/order-confirmation/preview", json=body, headers=tenant.headers())
    first = client.post(
        f"{URL}/order-confirmation/preview", json={**body, "version": 1}, headers=tenant.headers()
    )

    assert latest.get_json()["channels"] == {
        "in_app": {
            "title": "v2 for ORD-1",
            "body": None,
            "action_url": None,
            "category": None,
            "topic": None,
        }
    }
    assert set(first.get_json()["channels"]) == {"in_app", "email", "push"}


def test_openapi_documents_the_template_api(client: FlaskClient):
    paths = client.get("/openapi.json").get_json()["paths"]

    assert {"get", "post"} <= set(paths["/api/templates"])
    assert {"get", "put", "delete"} <= set(paths["/api/templates/{key}"])
    for action in ("submit", "approve", "reject", "preview"):
        assert "requestBody" in paths[f"/api/templates/{{key}}/{action}"]["post"]
    assert "get" in paths["/api/templates/{key}/versions/{number}"]
