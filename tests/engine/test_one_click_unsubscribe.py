"""One-click unsubscribe end to end: a real worker sends to a real SMTP server, the test reads
the List-Unsubscribe header of what arrived and POSTs to it as a mail client does, on SQLite and
PostgreSQL."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.runtime import Runtime
from app.suppressions.links import UnsubscribeLinks
from app.tenants.models import App
from tests.support.deliverability import (
    JANE,
    email_outcome,
    email_template,
    one_click,
    one_click_url,
    send_and_wait,
    suppression_list,
)
from tests.support.factories import Tenant
from tests.support.sinks import SmtpSink

BO = {"external_id": "bo", "email": "bo@example.com"}


def email_preferences(client: FlaskClient, tenant: Tenant, external_id: str) -> dict[str, bool]:
    """category -> whether email is on, as the user's preferences show it."""
    response = client.get("/notification_preferences", headers=tenant.user_headers(external_id))
    categories = response.get_json()["notification_preferences"]["categories"]
    return {
        c["slug"]: next(ch["enabled"] for ch in c["channels"] if ch["slug"] == "email")
        for c in categories
    }


def test_a_mail_clients_one_click_post_turns_that_category_off_and_the_next_send_is_skipped(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    email_template(client, tenant, "news", category="newsletter")
    email_template(client, tenant, "offers", category="offers")
    send_and_wait(client, tenant, "news", [JANE, BO])
    [message] = smtp_sink.received_by("jane@example.com")
    url = one_click_url(message)

    answer = one_click(client, url)
    again = one_click(client, url)

    assert (answer.status_code, again.status_code) == (200, 200)
    assert "You are unsubscribed" in answer.get_data(as_text=True)
    assert email_preferences(client, tenant, "jane") == {"newsletter": False}
    news = send_and_wait(client, tenant, "news", [JANE, BO])
    assert email_outcome(client, tenant, news, "jane") == ("skipped", "unsubscribed")
    assert email_outcome(client, tenant, news, "bo") == ("sent", None)
    offers = send_and_wait(client, tenant, "offers", [JANE])
    assert email_outcome(client, tenant, offers, "jane") == ("sent", None)
    assert len(smtp_sink.received_by("jane@example.com")) == 2  # the first news, the offer


def test_the_template_gets_the_same_link_as_the_header(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    email_template(client, tenant, "news", category="newsletter")
    send_and_wait(client, tenant, "news", [JANE])

    [message] = smtp_sink.received_by("jane@example.com")
    url = one_click_url(message)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"Unsubscribe: {url}" in text
    assert f'<a href="{url}">Unsubscribe</a>' in html


def test_get_shows_a_page_whose_button_posts_back_and_changes_nothing(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    email_template(client, tenant, "news", category="newsletter")
    send_and_wait(client, tenant, "news", [JANE])
    url = one_click_url(smtp_sink.received_by("jane@example.com")[0])
    path = url.split("127.0.0.1:5000", 1)[1]

    page = client.get(path)

    body = page.get_data(as_text=True)
    assert (page.status_code, page.mimetype) == (200, "text/html")
    assert '<form method="post">' in body
    assert 'name="List-Unsubscribe" value="One-Click"' in body
    assert "newsletter email from acme" in body
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert email_preferences(client, tenant, "jane") == {}
    again = send_and_wait(client, tenant, "news", [JANE])
    assert email_outcome(client, tenant, again, "jane") == ("sent", None)


def test_tampered_and_foreign_tokens_are_refused_and_change_nothing(
    client: FlaskClient,
    tenant: Tenant,
    other_tenant: Tenant,
    runtime: Runtime,
    smtp_sink: SmtpSink,
    worker,
):
    email_template(client, tenant, "news", category="newsletter")
    send_and_wait(client, tenant, "news", [JANE])
    token = one_click_url(smtp_sink.received_by("jane@example.com")[0]).rsplit("/", 1)[1]
    payload, signature = token.split(".")
    other_key = UnsubscribeLinks("another installation", runtime.settings.public_url)
    foreign = other_key.url(runtime.unsubscribe_links.read(token)).rsplit("/", 1)[1]

    for bad in (f"{payload[:-2]}xx.{signature}", f"{payload}.{signature[::-1]}", foreign, "x"):
        for method in ("GET", "POST"):
            response = client.open(f"/unsubscribe/{bad}", method=method)
            assert response.status_code == 404, (bad, method)
            [error] = response.get_json()["errors"]
            assert error["code"] == "ERR_UNSUBSCRIBE_LINK_INVALID"
    assert email_preferences(client, tenant, "jane") == {}
    assert suppression_list(client, tenant) == []


def test_preferences_set_through_the_api_still_skip_with_reason_preference(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    email_template(client, tenant, "news", category="newsletter")
    choices = {"slug": "newsletter", "channels": [{"slug": "email", "enabled": False}]}
    body = {"notification_preferences": {"categories": [choices]}}
    response = client.put(
        "/notification_preferences", json=body, headers=tenant.user_headers("jane")
    )
    assert response.status_code == 200, response.get_json()

    sent = send_and_wait(client, tenant, "news", [JANE])

    assert email_outcome(client, tenant, sent, "jane") == ("skipped", "preference")


def test_an_app_wide_link_suppresses_the_address_for_all_but_critical_email(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    with runtime.database.transaction() as session:
        session.get(App, tenant.app_id).critical_categories = ["security"]
    email_template(client, tenant, "digest", category=None)
    email_template(client, tenant, "offers", category="offers")
    email_template(client, tenant, "login", category="security")
    send_and_wait(client, tenant, "digest", [JANE])

    answer = one_click(client, one_click_url(smtp_sink.received_by("jane@example.com")[0]))

    assert answer.status_code == 200
    assert "email from acme at jane@example.com" in answer.get_data(as_text=True)
    [entry] = suppression_list(client, tenant)
    assert (entry["email"], entry["reason"]) == ("jane@example.com", "unsubscribed")
    for key in ("digest", "offers"):
        sent = send_and_wait(client, tenant, key, [JANE])
        assert email_outcome(client, tenant, sent, "jane") == ("skipped", "unsubscribed"), key
    login = send_and_wait(client, tenant, "login", [JANE])
    assert email_outcome(client, tenant, login, "jane") == ("sent", None)


def test_critical_email_carries_no_unsubscribe_link(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    with runtime.database.transaction() as session:
        session.get(App, tenant.app_id).critical_categories = ["security"]
    email_template(client, tenant, "login", category="security")

    send_and_wait(client, tenant, "login", [JANE])

    [message] = smtp_sink.received_by("jane@example.com")
    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None
    assert message.get_body(("plain",)).get_content().rstrip().endswith("Unsubscribe:")
