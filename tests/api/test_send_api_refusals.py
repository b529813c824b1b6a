"""POST /api/notifications/send's refusals, with the error codes seed 004 documents: malformed
requests, an unknown mode, target limits, templates not found or not approved, and variables
the template's schema refuses; a refused send stores nothing."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.engine.models import Notification
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.send_api import SEED_EXAMPLE, URL, error_codes


@pytest.mark.parametrize(
    "change, field",
    [
        ({"template": None}, "template"),
        ({"template": {"variables": {}}}, "template"),
        ({"template": {"key": "order-confirmation", "id": "x", "variables": {}}}, "template"),
        ({"targets": []}, "targets"),
        ({"targets": "user-1"}, "targets"),
        ({"targets": [{"first_name": "No id"}]}, "targets.0"),
        ({"targets": [{"external_id": "u", "email": "not-an-email"}]}, "targets.0.email"),
        ({"title": 7}, "title"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_malformed_requests_are_err_bad_request_naming_the_field(
    client: FlaskClient, tenant: Tenant, template: dict, change: dict, field: str
):
    request = {**SEED_EXAMPLE, **change}
    request = {k: v for k, v in request.items() if v is not None}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert response.status_code == 400
    assert error_codes(response)[0] == "ERR_BAD_REQUEST"
    assert any(e.get("field", "").startswith(field) for e in response.get_json()["errors"])


def test_malformed_json_is_err_bad_request(client: FlaskClient, tenant: Tenant):
    response = client.post(URL, data="{", content_type="application/json", headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_BAD_REQUEST"])


@pytest.mark.parametrize("mode", [None, "later", 3])
def test_missing_or_unknown_mode_is_err_invalid_mode(
    client: FlaskClient, tenant: Tenant, template: dict, mode
):
    request = (
        {**SEED_EXAMPLE, "mode": mode}
        if mode is not None
        else {k: v for k, v in SEED_EXAMPLE.items() if k != "mode"}
    )

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_INVALID_MODE"])


def test_realtime_with_two_targets_is_err_target_limit_exceeded(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {**SEED_EXAMPLE, "targets": ["a", "b"]}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_TARGET_LIMIT_EXCEEDED"])


def test_batch_over_10000_targets_is_refused(client: FlaskClient, tenant: Tenant, template: dict):
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": [f"u{i}" for i in range(10_001)]}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (400, ["ERR_TARGET_LIMIT_EXCEEDED"])


def test_batch_of_exactly_10000_targets_is_accepted(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": [f"u{i}" for i in range(10_000)]}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, response.get_json()["targets"]) == (202, 10_000)


def test_target_limits_follow_the_app_settings(client: FlaskClient, tenant: Tenant, template: dict):
    client.patch("/api/apps/current", json={"batchTargetLimit": 2}, headers=tenant.headers())
    request = {**SEED_EXAMPLE, "mode": "batch", "targets": ["a", "b", "c"]}

    assert error_codes(client.post(URL, json=request, headers=tenant.headers())) == [
        "ERR_TARGET_LIMIT_EXCEEDED"
    ]


def test_unknown_template_is_err_template_not_found(client: FlaskClient, tenant: Tenant):
    request = {**SEED_EXAMPLE, "template": {"key": "nope", "variables": {}}}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (404, ["ERR_TEMPLATE_NOT_FOUND"])


def test_archived_template_is_err_template_not_found(
    client: FlaskClient, tenant: Tenant, template: dict
):
    client.delete("/api/templates/order-confirmation", headers=tenant.headers())

    response = client.post(URL, json=SEED_EXAMPLE, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (404, ["ERR_TEMPLATE_NOT_FOUND"])


def test_template_of_another_app_is_not_found(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant, template: dict
):
    response = client.post(URL, json=SEED_EXAMPLE, headers=other_tenant.headers())

    assert error_codes(response) == ["ERR_TEMPLATE_NOT_FOUND"]


def test_unapproved_template_is_err_template_not_approved(client: FlaskClient, tenant: Tenant):
    client.post(
        "/api/templates",
        json={
            "key": "draft-only",
            "name": "Draft",
            "channels": {"in_app": {"title": "Hi"}},
            "variableSchema": {"type": "object", "properties": {}},
        },
        headers=tenant.headers(),
    )
    request = {**SEED_EXAMPLE, "template": {"key": "draft-only", "variables": {}}}

    response = client.post(URL, json=request, headers=tenant.headers())

    assert (response.status_code, error_codes(response)) == (422, ["ERR_TEMPLATE_NOT_APPROVED"])


def test_missing_and_wrongly_typed_variables_are_each_named(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {
        **SEED_EXAMPLE,
        "template": {"key": "order-confirmation", "variables": {"orderId": 12345}},
    }

    response = client.post(URL, json=request, headers=tenant.headers())

    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert {e["code"] for e in errors} == {"ERR_INVALID_VARIABLES"}
    assert {e["field"] for e in errors} == {
        "template.variables.customerName",
        "template.variables.orderId",
    }


def test_missing_variables_object_counts_as_empty(
    client: FlaskClient, tenant: Tenant, template: dict
):
    request = {**SEED_EXAMPLE, "template": {"key": "order-confirmation"}}

    assert (
        error_codes(client.post(URL, json=request, headers=tenant.headers()))[0]
        == "ERR_INVALID_VARIABLES"
    )


def test_a_refused_send_stores_nothing(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    client.post(URL, json={**SEED_EXAMPLE, "targets": ["a", "b"]}, headers=tenant.headers())

    with runtime.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
