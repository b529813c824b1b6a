"""`herald webhooks list|create|show|update|delete|rotate-secret|test|attempts`: webhook endpoints
from the command line, in the API's words (camelCase JSON on stdout, the error envelope on
stderr)."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.factories import Tenant
from tests.support.webhook_receiver import WebhookReceiver


def test_create_show_update_and_delete_as_the_api_does(
    cli, client: FlaskClient, tenant: Tenant, webhook_receiver: WebhookReceiver
):
    app = ("--app", tenant.app_id)
    created = cli("webhooks", "create", *app, "--url", webhook_receiver.url, "--event", "*")
    webhook_id = created["id"]
    updated = cli("webhooks", "update", *app, webhook_id, "--event", "delivery.sent", "--disable")
    listed = cli("webhooks", "list", *app)
    shown = client.get(f"/api/webhooks/{webhook_id}", headers=tenant.headers()).get_json()
    deleted = cli("webhooks", "delete", *app, webhook_id)

    assert created["secret"].startswith("whsec_") and created["events"] == ["*"]
    assert (updated["events"], updated["enabled"]) == (["delivery.sent"], False)
    assert listed == [shown] == [updated]
    assert deleted == {"id": webhook_id, "deleted": True}
    assert cli("webhooks", "list", *app) == []


def test_test_sends_signed_and_attempts_lists_them(
    cli, tenant: Tenant, webhook_receiver: WebhookReceiver
):
    app = ("--app", tenant.app_id)
    created = cli("webhooks", "create", *app, "--url", webhook_receiver.url, "--event", "*")
    rotated = cli("webhooks", "rotate-secret", *app, created["id"])

    result = cli("webhooks", "test", *app, created["id"])
    attempts = cli("webhooks", "attempts", *app, created["id"])

    assert (result["delivered"], result["statusCode"]) == (True, 200)
    [request] = webhook_receiver.requests()
    assert request.verify(rotated["secret"])["type"] == "webhook.test"
    assert [a["webhookId"] for a in attempts] == [result["webhookId"]] == [request.webhook_id]


def test_refusals_print_the_error_envelope(cli, tenant: Tenant):
    app = ("--app", tenant.app_id)
    private = cli.refusal("webhooks", "create", *app, "--url", "https://10.0.0.7/", "--event", "*")
    unknown_type = cli.refusal(
        "webhooks", "create", *app, "--url", "https://hooks.example.com/", "--event", "nope"
    )
    absent = cli.refusal("webhooks", "show", *app, "no-such-webhook")

    assert (private["errors"][0]["code"], private["errors"][0]["field"]) == (
        "ERR_BAD_REQUEST",
        "url",
    )
    assert unknown_type["errors"][0]["field"] == "events.0"
    assert absent["errors"][0]["code"] == "ERR_WEBHOOK_NOT_FOUND"
