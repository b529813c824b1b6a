"""The send API checks a request in the order docs/sending.md lists, and the first refusal wins."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template, make_key

URL = "/api/notifications/send"


def error_codes(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["code"] for e in response.get_json()["errors"]]


def test_a_send_is_checked_in_the_documented_order_and_the_first_refusal_wins(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    approved_template(client, tenant)
    reader = {"Authorization": f"Bearer {make_key(runtime, tenant, ['read'])}"}
    allow_list = {"enabled": True, "domains": ["example.com"], "emails": []}
    client.put("/api/apps/current/allow_list", json=allow_list, headers=tenant.headers())
    headers: dict[str, str] = {}
    request = {
        "template": {"key": "missing", "variables": {}, "notificationPushData": "an object?"},
        "targets": [{"external_id": "a", "email": "a@elsewhere.org"}, "b"],
        "mode": "sometimes",
        "tag": 42,
        "sendAt": "2000-01-01T00:00:00Z",
    }
    refusals = []

    def correct_it(stage: str) -> None:
        nonlocal headers
        if stage == "credentials":
            headers = reader
        elif stage == "scope":
            headers = tenant.headers()
        elif stage == "body":
            del request["tag"]
        elif stage == "push overrides":
            del request["template"]["notificationPushData"]
        elif stage == "send time":
            del request["sendAt"]
        elif stage == "mode":
            request["mode"] = "realtime"
        elif stage == "target limit":
            request["targets"] = request["targets"][:1]
        elif stage == "template":
            request["template"]["key"] = "order-confirmation"
        elif stage == "variables":
            request["template"]["variables"] = {"customerName": "Ann", "orderId": "O-1"}
        elif stage == "allow-list":
            request["targets"] = [{"external_id": "a", "email": "a@example.com"}]

    stages = [
        "credentials", "scope", "body", "push overrides", "send time", "mode", "target limit",
        "template", "variables", "allow-list",
    ]  # fmt: skip
    for stage in stages:
        response = client.post(URL, json=request, headers=headers)
        refusals.append((stage, response.status_code, error_codes(response)[0]))
        correct_it(stage)
    accepted = client.post(URL, json=request, headers=headers)

    assert refusals == [
        ("credentials", 401, "api_key_not_provided"),
        ("scope", 403, "forbidden"),
        ("body", 400, "ERR_BAD_REQUEST"),
        ("push overrides", 400, "ERR_BAD_REQUEST"),
        ("send time", 400, "ERR_BAD_REQUEST"),
        ("mode", 400, "ERR_INVALID_MODE"),
        ("target limit", 400, "ERR_TARGET_LIMIT_EXCEEDED"),
        ("template", 404, "ERR_TEMPLATE_NOT_FOUND"),
        ("variables", 400, "ERR_INVALID_VARIABLES"),
        ("allow-list", 422, "ERR_NO_ALLOWED_TARGETS"),
    ]
    assert accepted.status_code == 200, accepted.get_json()
