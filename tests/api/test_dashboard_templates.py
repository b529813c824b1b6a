"""The dashboard's templates pages through the Flask test client: versions and their review,
the diff of two versions, previews, and submit, approve and reject under their scopes."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.dashboard import csrf_token, sign_in
from tests.support.factories import ORDER_CHANNELS, ORDER_SCHEMA, Tenant, make_key

TEMPLATES = "/dashboard/templates"
KEY = "order-confirmation"


def draft(client: FlaskClient, tenant: Tenant, subject: str = "Order {{ orderId }}") -> None:
    """A new draft version of the order template (the template is created on first call)."""
    channels = {**ORDER_CHANNELS, "email": {**ORDER_CHANNELS["email"], "subject": subject}}
    body = {"name": "Order", "channels": channels, "variableSchema": ORDER_SCHEMA}
    exists = client.get(f"/api/templates/{KEY}", headers=tenant.headers()).status_code == 200
    if exists:
        response = client.put(f"/api/templates/{KEY}", json=body, headers=tenant.headers())
    else:
        response = client.post(
            "/api/templates", json={**body, "key": KEY}, headers=tenant.headers()
        )
    assert response.status_code in (200, 201), response.get_json()


def review(client: FlaskClient, version: int, action: str, **form: str):
    page = client.get(f"{TEMPLATES}/{KEY}")
    return client.post(
        f"{TEMPLATES}/{KEY}/versions/{version}/{action}",
        data={"csrf_token": csrf_token(page), **form},
    )


def test_submit_and_approve_from_the_dashboard_make_the_version_sendable(
    client: FlaskClient, tenant: Tenant
):
    draft(client, tenant)
    sign_in(client, tenant.secret)

    submitted = review(client, 1, "submit")
    approved = review(client, 1, "approve")
    page = client.get(f"{TEMPLATES}/{KEY}").get_data(as_text=True)
    send = client.post(
        "/api/notifications/send",
        json={
            "template": {"key": KEY, "variables": {"customerName": "J", "orderId": "7"}},
            "targets": [{"email": "a@example.com"}],
            "mode": "batch",
        },
        headers=tenant.headers(),
    )

    assert submitted.status_code == approved.status_code == 302
    assert "Sends use version <strong>1</strong>" in page and "approved by" in page
    assert send.status_code == 202, send.get_json()


def test_reject_needs_a_reason_and_shows_it(client: FlaskClient, tenant: Tenant):
    draft(client, tenant)
    sign_in(client, tenant.secret)
    review(client, 1, "submit")

    without = review(client, 1, "reject")
    too_long = review(client, 1, "reject", reason="x" * 2001)  # as the API refuses it
    rejected = review(client, 1, "reject", reason="Subject too vague")
    page = client.get(f"{TEMPLATES}/{KEY}").get_data(as_text=True)

    assert without.status_code == 400 and "needs a reason" in without.get_data(as_text=True)
    assert too_long.status_code == 400 and "2000" in too_long.get_data(as_text=True)
    assert rejected.status_code == 302
    assert "rejected by" in page and "Subject too vague" in page


def test_review_actions_need_their_scopes(client: FlaskClient, tenant: Tenant, runtime: Runtime):
    draft(client, tenant)
    sign_in(client, make_key(runtime, tenant, ["read", "manage_templates"]))

    submitted = review(client, 1, "submit")
    page = client.get(f"{TEMPLATES}/{KEY}").get_data(as_text=True)
    approving = review(client, 1, "approve")

    assert submitted.status_code == 302
    assert "Approve version 1" not in page
    assert approving.status_code == 403 and "approve_templates" in approving.get_data(as_text=True)


def test_the_diff_shows_two_versions_side_by_side(client: FlaskClient, tenant: Tenant):
    draft(client, tenant, subject="Order {{ orderId }}")
    draft(client, tenant, subject="Your order {{ orderId }} is confirmed")
    sign_in(client, tenant.secret)

    page = client.get(f"{TEMPLATES}/{KEY}/diff?from=1&to=2").get_data(as_text=True)

    assert "Version 1 against version 2" in page
    assert 'class="removed">~ ' in page and "Order {{ orderId }}" in page
    assert 'class="added">~ ' in page and "Your order {{ orderId }} is confirmed" in page


def test_the_preview_renders_every_channel_with_example_variables_in_a_sandbox(
    client: FlaskClient, tenant: Tenant
):
    draft(client, tenant)
    sign_in(client, tenant.secret)

    preview = client.get(f"{TEMPLATES}/{KEY}/versions/1/preview")
    page = preview.get_data(as_text=True)

    assert 'sandbox="" srcdoc="&lt;p&gt;Hi example customerName' in page
    assert "Order example orderId confirmed" in page  # in-app
    assert "Confirmed for example customerName" in page  # push
    assert "script-src 'self'" in preview.headers["Content-Security-Policy"]


def test_another_apps_template_is_not_found(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    draft(client, other_tenant)
    sign_in(client, tenant.secret)
    token = csrf_token(client.get("/dashboard/notifications"))

    submitted = client.post(f"{TEMPLATES}/{KEY}/versions/1/submit", data={"csrf_token": token})
    theirs = client.get(f"/api/templates/{KEY}", headers=other_tenant.headers()).get_json()

    assert client.get(f"{TEMPLATES}/{KEY}").status_code == 404
    assert client.get(f"{TEMPLATES}/{KEY}/versions/1/preview").status_code == 404
    assert client.get(f"{TEMPLATES}/{KEY}/diff?from=1&to=1").status_code == 404
    assert submitted.status_code == 404
    assert theirs["status"] == "draft", theirs
