"""`/api/webhooks`: endpoints made, read, changed, deleted; secrets shown once, rotated; test
sends signed as every message is; URLs that lead inside the network refused."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from standardwebhooks.webhooks import WebhookVerificationError

from app.extensions import db_session
from app.runtime import Runtime
from app.webhooks.models import WebhookEndpoint
from tests.support.factories import Tenant, make_key
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhooks import URL, create_webhook

VIEW_FIELDS = {
    "id",
    "url",
    "description",
    "events",
    "enabled",
    "disabledReason",
    "createdAt",
    "updatedAt",
}


def test_create_answers_the_endpoint_and_a_secret_shown_once(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    created = create_webhook(
        client,
        tenant,
        "http://127.0.0.1:9/hooks",
        ["delivery.failed", "delivery.sent", "delivery.failed"],
        description="Order events",
    )
    shown = client.get(f"{URL}/{created['id']}", headers=tenant.headers()).get_json()
    listed = client.get(URL, headers=tenant.headers()).get_json()

    assert set(created) == VIEW_FIELDS | {"secret"}
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) >= 24
    assert created["events"] == ["delivery.sent", "delivery.failed"]
    assert (created["enabled"], created["disabledReason"]) == (True, None)
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    assert (listed["webhooks"], listed["total"]) == ([shown], 1)
    with runtime.database.transaction() as session:
        stored = session.scalar(select(WebhookEndpoint.secret_encrypted))
    assert created["secret"] not in stored
    assert runtime.encryptor.decrypt(stored) == created["secret"]


@pytest.mark.parametrize(
    "url",
    [
        "https://10.1.2.3/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://192.168.0.10:443/hooks",
        "https://[fd00::1]/hooks",
        "http://hooks.example.com/plain-http",
        "https://intranet/hooks",
    ],
)
def test_a_url_leading_inside_the_network_is_refused_naming_the_field(
    client: FlaskClient, tenant: Tenant, url: str
):
    response = client.post(URL, json={"url": url, "events": ["*"]}, headers=tenant.headers())

    assert response.status_code == 400
    [error] = response.get_json()["errors"]
    assert (error["code"], error["field"]) == ("ERR_BAD_REQUEST", "url")
    assert client.get(URL, headers=tenant.headers()).get_json()["total"] == 0


def test_unknown_event_types_and_missing_fields_are_refused(client: FlaskClient, tenant: Tenant):
    unknown = client.post(
        URL, json={"url": "https://hooks.example.com/", "events": ["delivery.lost"]},
        headers=tenant.headers(),
    )  # fmt: skip
    missing = client.post(URL, json={"url": "https://hooks.example.com/"}, headers=tenant.headers())

    assert unknown.status_code == missing.status_code == 400
    assert unknown.get_json()["errors"][0]["field"] == "events.0"
    assert missing.get_json()["errors"][0]["field"] == "events"


def test_patch_changes_what_it_names_and_enabling_clears_the_reason(
    client: FlaskClient, tenant: Tenant
):
    created = create_webhook(client, tenant, "http://127.0.0.1:9/hooks", ["delivery.sent"])
    url = f"{URL}/{created['id']}"

    disabled = client.patch(url, json={"enabled": False}, headers=tenant.headers()).get_json()
    changed = client.patch(
        url,
        json={"enabled": True, "events": ["*"], "description": "All", "url": "http://[::1]:9/h"},
        headers=tenant.headers(),
    ).get_json()
    refused = client.patch(url, json={"url": "https://10.0.0.1/"}, headers=tenant.headers())

    assert (disabled["enabled"], disabled["disabledReason"]) == (False, "disabled by the app")
    assert (changed["enabled"], changed["disabledReason"]) == (True, None)
    assert (changed["events"], changed["description"]) == (["*"], "All")
    assert changed["url"] == "http://[::1]:9/h"
    assert refused.status_code == 400
    assert refused.get_json()["errors"][0]["field"] == "url"


def test_delete_forgets_the_endpoint(client: FlaskClient, tenant: Tenant, other_tenant: Tenant):
    created = create_webhook(client, tenant, "http://127.0.0.1:9/hooks")
    url = f"{URL}/{created['id']}"

    of_another_app = client.delete(url, headers=other_tenant.headers())
    deleted = client.delete(url, headers=tenant.headers())

    assert of_another_app.status_code == 404
    assert of_another_app.get_json()["errors"][0]["code"] == "ERR_WEBHOOK_NOT_FOUND"
    assert deleted.status_code == 204
    assert client.get(url, headers=tenant.headers()).status_code == 404


def test_webhooks_need_the_admin_scope(client: FlaskClient, runtime: Runtime, tenant: Tenant):
    reader = make_key(runtime, tenant, ["read", "send_notifications"])
    headers = {"X-API-Key": tenant.api_key, "X-API-Secret": reader}

    assert client.get(URL, headers=headers).status_code == 403
    body = {"url": "https://hooks.example.com/", "events": ["*"]}
    assert client.post(URL, json=body, headers=headers).status_code == 403


def test_a_test_send_is_signed_verifiable_and_recorded_as_an_attempt(
    client: FlaskClient, tenant: Tenant, webhook_receiver: WebhookReceiver
):
    created = create_webhook(client, tenant, webhook_receiver.url, ["suppression.added"])

    answer = client.post(f"{URL}/{created['id']}/test", headers=tenant.headers())
    attempts = client.get(f"{URL}/{created['id']}/attempts", headers=tenant.headers())

    assert answer.status_code == 200
    result = answer.get_json()
    assert (result["delivered"], result["statusCode"], result["error"]) == (True, 200, None)
    assert result["latencyMs"] >= 0
    [request] = webhook_receiver.requests()
    event = request.verify(created["secret"])
    assert (event["type"], event["appId"]) == ("webhook.test", tenant.app_id)
    assert event["id"].startswith("evt_") and event["timestamp"].endswith("Z")
    assert request.webhook_id == result["webhookId"]
    [attempt] = attempts.get_json()["attempts"]
    assert attempt == {k: v for k, v in result.items() if k != "delivered"}
    assert attempt["eventCount"] == 1


def test_a_test_send_holds_no_transaction_while_it_waits_for_the_answer(
    client: FlaskClient,
    runtime: Runtime,
    tenant: Tenant,
    webhook_receiver: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
):
    created = create_webhook(client, tenant, webhook_receiver.url)
    post, during = runtime.webhook_http.post, []

    def watched_post(*args: Any, **kwargs: Any) -> Any:
        during.append(db_session().in_transaction())
        return post(*args, **kwargs)

    monkeypatch.setattr(runtime.webhook_http, "post", watched_post)
    answer = client.post(f"{URL}/{created['id']}/test", headers=tenant.headers())

    assert (answer.status_code, answer.get_json()["delivered"]) == (200, True)
    assert during == [False]
    attempts = client.get(f"{URL}/{created['id']}/attempts", headers=tenant.headers())
    assert len(attempts.get_json()["attempts"]) == 1


def test_a_tampered_body_fails_verification(
    client: FlaskClient, tenant: Tenant, webhook_receiver: WebhookReceiver
):
    created = create_webhook(client, tenant, webhook_receiver.url)
    client.post(f"{URL}/{created['id']}/test", headers=tenant.headers())
    [request] = webhook_receiver.requests()
    tampered = request.body.replace(b"webhook.test", b"webhook.fake")

    with pytest.raises(WebhookVerificationError):
        type(request)(request.headers, tampered, request.at).verify(created["secret"])


def test_a_refused_test_send_answers_the_status_and_the_answer_kept(
    client: FlaskClient, tenant: Tenant, webhook_receiver: WebhookReceiver
):
    created = create_webhook(client, tenant, webhook_receiver.url)
    webhook_receiver.answer(500)

    result = client.post(f"{URL}/{created['id']}/test", headers=tenant.headers()).get_json()

    assert (result["delivered"], result["statusCode"]) == (False, 500)
    assert result["error"] == "answered 500"
    assert result["responseBody"] == '{"status": 500}'


def test_a_rotated_secret_signs_with_the_replaced_one_still_verifying_for_a_while(
    client: FlaskClient, tenant: Tenant, webhook_receiver: WebhookReceiver
):
    created = create_webhook(client, tenant, webhook_receiver.url)

    rotated = client.post(f"{URL}/{created['id']}/rotate-secret", headers=tenant.headers())
    client.post(f"{URL}/{created['id']}/test", headers=tenant.headers())

    assert rotated.status_code == 200
    secret = rotated.get_json()["secret"]
    assert secret.startswith("whsec_") and secret != created["secret"]
    [request] = webhook_receiver.requests()
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert request.verify(secret)["type"] == "webhook.test"
    assert request.verify(created["secret"])["type"] == "webhook.test"
