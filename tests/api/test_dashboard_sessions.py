"""The dashboard's sessions through the Flask test client: how one starts, what its cookie
carries, CSRF tokens, idle expiry, sign-out, scopes, revoked keys and tenancy."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

from app import ratelimit
from app.runtime import Runtime
from app.tenants import service as tenants
from tests.support.dashboard import SIGN_IN, csrf_token, session_keys, sign_in
from tests.support.factories import Tenant, approved_template, make_key
from tests.support.pipeline import batch

NOTIFICATIONS = "/dashboard/notifications"


def test_signing_in_sets_an_http_only_same_site_cookie_and_keeps_no_secret(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    signed_in = sign_in(client, tenant.secret)
    cookie = signed_in.headers["Set-Cookie"]
    page = client.get(NOTIFICATIONS)

    assert signed_in.status_code == 302 and signed_in.location.endswith(NOTIFICATIONS)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/dashboard" in cookie
    assert "Secure" not in cookie
    assert tenant.secret not in cookie and tenant.secret not in page.get_data(as_text=True)
    [key] = session_keys(runtime)
    stored = runtime.redis.get(key).decode()
    assert tenant.secret not in stored and tenant.app_id in stored
    assert 1790 < runtime.redis.ttl(key) <= 1800


def test_the_cookie_is_secure_when_served_over_https(client: FlaskClient, tenant: Tenant):
    signed_in = sign_in(client, tenant.secret, base_url="https://localhost")

    assert "Secure" in signed_in.headers["Set-Cookie"]


def test_a_wrong_secret_or_a_key_without_read_is_refused_with_the_form_again(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    send_only = make_key(runtime, tenant, ["send_notifications"])

    wrong = sign_in(client, "not-a-secret")
    lacking = sign_in(client, send_only)

    assert wrong.status_code == 401 and "not valid" in wrong.get_data(as_text=True)
    assert lacking.status_code == 403 and "read scope" in lacking.get_data(as_text=True)
    assert session_keys(runtime) == []


def test_an_address_failing_to_sign_in_ten_times_a_minute_is_refused_until_the_next(
    client: FlaskClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    minute = 1_900_000_020.0  # a minute no other test signs in during
    monkeypatch.setattr(ratelimit, "clock", lambda: minute)
    failures = [sign_in(client, f"guess-{n}").status_code for n in range(10)]

    blocked = sign_in(client, tenant.secret)
    monkeypatch.setattr(ratelimit, "clock", lambda: minute + 60)
    next_minute = sign_in(client, tenant.secret)

    assert failures == [401] * 10
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.get_data(
        as_text=True
    )
    assert next_minute.status_code == 302


def test_pages_need_a_session_and_send_to_sign_in_without_one(client: FlaskClient):
    response = client.get(NOTIFICATIONS)

    assert response.status_code == 302 and response.location.endswith(SIGN_IN)


def test_forms_posted_without_their_csrf_token_are_refused(client: FlaskClient, tenant: Tenant):
    sign_in(client, tenant.secret)

    signing_out = client.post("/dashboard/sign-out", data={})
    forged = client.post("/dashboard/sign-out", data={"csrf_token": "forged"})
    signing_in = client.post(SIGN_IN, data={"secret": tenant.secret})

    for refused in (signing_out, forged, signing_in):
        assert refused.status_code == 400
        assert "security token" in refused.get_data(as_text=True)
    assert client.get(NOTIFICATIONS).status_code == 200  # still signed in


def test_an_idle_session_expires_and_sends_to_sign_in_saying_so(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    sign_in(client, tenant.secret)
    [key] = session_keys(runtime)
    runtime.redis.pexpire(key, 50)  # as if 30 minutes had passed without a request
    time.sleep(0.1)

    expired = client.get(NOTIFICATIONS)
    notice = client.get(expired.location)

    assert expired.status_code == 302 and "expired=1" in expired.location
    assert "session has ended" in notice.get_data(as_text=True)


def test_each_request_restarts_the_idle_timer(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    sign_in(client, tenant.secret)
    [key] = session_keys(runtime)
    runtime.redis.expire(key, 60)

    client.get(NOTIFICATIONS)

    assert runtime.redis.ttl(key) > 1700


def test_a_progress_stream_does_not_restart_the_idle_timer(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    sign_in(client, tenant.secret)
    [key] = session_keys(runtime)
    runtime.redis.expire(key, 60)

    stream = client.get(f"{NOTIFICATIONS}/progress").get_data(as_text=True)

    assert "event: done" in stream
    assert 0 < runtime.redis.ttl(key) <= 60  # an open page alone is no activity


def test_signing_out_ends_the_session_in_redis(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    sign_in(client, tenant.secret)
    page = client.get(NOTIFICATIONS)

    signed_out = client.post("/dashboard/sign-out", data={"csrf_token": csrf_token(page)})

    assert signed_out.status_code == 302 and "signed_out=1" in signed_out.location
    assert session_keys(runtime) == []
    assert client.get(NOTIFICATIONS).status_code == 302


def test_revoking_the_key_ends_its_sessions(client: FlaskClient, tenant: Tenant, runtime: Runtime):
    reader = make_key(runtime, tenant, ["read"])
    sign_in(client, reader)
    assert client.get(NOTIFICATIONS).status_code == 200

    with runtime.database.transaction() as session:
        key = tenants.find_active_key(session=session, secret=reader)
        tenants.revoke_secret_key(session=session, app_id=tenant.app_id, key_id=key.id)

    assert client.get(NOTIFICATIONS).status_code == 302
    assert session_keys(runtime) == []


def test_cancel_needs_send_notifications(client: FlaskClient, tenant: Tenant, runtime: Runtime):
    approved_template(client, tenant)
    sent = batch(client, tenant, ["a@example.com", "b@example.com"])
    url = f"{NOTIFICATIONS}/{sent['notificationId']}"
    sign_in(client, make_key(runtime, tenant, ["read"]))
    page = client.get(url)

    refused = client.post(f"{url}/cancel", data={"csrf_token": csrf_token(page)})

    assert "Cancel this send" not in page.get_data(as_text=True)
    assert refused.status_code == 403 and "send_notifications" in refused.get_data(as_text=True)


def test_cancel_with_the_scope_cancels_the_send(client: FlaskClient, tenant: Tenant):
    approved_template(client, tenant)
    sent = batch(client, tenant, ["a@example.com", "b@example.com"])
    url = f"{NOTIFICATIONS}/{sent['notificationId']}"
    sign_in(client, tenant.secret)
    page = client.get(url)

    cancelled = client.post(f"{url}/cancel", data={"csrf_token": csrf_token(page)})
    shown = client.get(cancelled.location).get_data(as_text=True)

    assert cancelled.status_code == 302
    assert 'data-status="' + sent["notificationId"] + '">cancelled<' in shown
    assert "Cancel this send" not in shown


def test_another_apps_notification_is_not_found(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant
):
    approved_template(client, other_tenant)
    theirs = batch(client, other_tenant, ["a@example.com"])["notificationId"]
    sign_in(client, tenant.secret)

    page = client.get(f"{NOTIFICATIONS}/{theirs}")
    cancel = client.post(
        f"{NOTIFICATIONS}/{theirs}/cancel",
        data={"csrf_token": csrf_token(client.get(NOTIFICATIONS))},
    )
    stream = client.get(f"{NOTIFICATIONS}/progress?id={theirs}").get_data(as_text=True)

    assert page.status_code == 404 and cancel.status_code == 404
    assert theirs not in stream and "event: done" in stream


def test_the_list_filters_by_status_template_and_date(client: FlaskClient, tenant: Tenant):
    approved_template(client, tenant)
    approved_template(client, tenant, key="welcome")
    order = batch(client, tenant, ["a@example.com"])["notificationId"]
    welcome = client.post(
        "/api/notifications/send",
        json={
            "template": {"key": "welcome", "variables": {"customerName": "J", "orderId": "1"}},
            "targets": ["b@example.com"],
            "mode": "batch",
        },
        headers=tenant.headers(),
    ).get_json()["notificationId"]
    sign_in(client, tenant.secret)

    def listed(query: str) -> str:
        return client.get(f"{NOTIFICATIONS}?{query}").get_data(as_text=True)

    assert order in listed("template=order-confirmation")
    assert welcome not in listed("template=order-confirmation")
    assert order in listed("status=queued") and order not in listed("status=completed")
    assert order in listed("from=2000-01-01&to=2999-12-31")
    assert order not in listed("to=2000-01-01")
    assert client.get(f"{NOTIFICATIONS}?status=bogus").status_code == 400


def test_pages_carry_a_strict_content_security_policy(client: FlaskClient, tenant: Tenant):
    sign_in(client, tenant.secret)

    page = client.get(NOTIFICATIONS)
    policy = page.headers["Content-Security-Policy"]

    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in page.get_data(as_text=True)
