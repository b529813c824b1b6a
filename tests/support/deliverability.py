"""Emails with unsubscribe links and the suppression list: templates in a category (or none),
batch sends waited for, and the one-click POST a mail client makes."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import SEND, deliveries, finished

# An email whose text and HTML show the link Herald gives the template.
EMAIL = {
    "subject": "News for {{ name }}",
    "text": "Hello {{ name }}. Unsubscribe: {{ unsubscribe_url }}",
    "html": '<p>Hello {{ name }}.</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}
# The recipient the sends greet (`send_and_wait` names her).
JANE = {"external_id": "jane", "email": "jane@example.com"}


def email_template(
    client: FlaskClient, tenant: Tenant, key: str, category: str | None
) -> dict[str, Any]:
    """An approved template sending email (and an inbox row naming the category, if any)."""
    in_app: dict[str, Any] = {"title": "News for {{ name }}"}
    if category is not None:
        in_app["category"] = category
    channels = {"email": EMAIL, "in_app": in_app}
    return approved_template(client, tenant, key=key, channels=channels, schema=SCHEMA)


def send_and_wait(client: FlaskClient, tenant: Tenant, key: str, targets: list) -> str:
    """A batch of this template to these targets, once completed; its notification id."""
    request = {
        "template": {"key": key, "variables": {"name": "Jane"}},
        "targets": targets,
        "mode": "batch",
    }
    response = client.post(SEND, json=request, headers=tenant.headers())
    assert response.status_code == 202, response.get_json()
    notification_id = response.get_json()["notificationId"]
    finished(client, tenant, notification_id)
    return notification_id


def email_outcome(
    client: FlaskClient, tenant: Tenant, notification_id: str, target: str
) -> tuple[str, str | None]:
    """(status, reason) of the target's email delivery."""
    [email] = [
        d
        for d in deliveries(client, tenant, notification_id, "&channel=email")
        if d["target"] == target
    ]
    return email["status"], email["reason"]


def one_click_url(message: EmailMessage) -> str:
    """The https (here http) URL of the List-Unsubscribe header, as a mail client reads it."""
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = str(message["List-Unsubscribe"]).strip()
    assert header.startswith("<") and header.endswith(">"), header
    return header[1:-1]


def one_click(client: FlaskClient, url: str) -> TestResponse:
    """The POST RFC 8058 has a mail client make: the header's key/value as a form body, no
    cookies, no credentials."""
    return client.post(
        urlsplit(url).path,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def suppression_list(client: FlaskClient, tenant: Tenant, query: str = "") -> list[dict]:
    response = client.get(f"/api/suppressions{query}", headers=tenant.headers())
    assert response.status_code == 200, response.get_json()
    return response.get_json()["suppressions"]
