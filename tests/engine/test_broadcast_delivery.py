"""Broadcasts through a real worker: SMTP server, Web Push service, inbox rows, status."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import select

from app.engine.models import Delivery
from app.inbox.models import InboxNotification
from app.runtime import Runtime
from tests.support.broadcasts import post_broadcast, processed
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch, subscribe
from tests.support.sinks import PushService, SmtpSink, wait_until


def recipients(client: FlaskClient, tenant: Tenant, broadcast_id: str) -> list[dict]:
    url = f"/broadcasts/{broadcast_id}/notifications?per_page=100"
    return client.get(url, headers=tenant.headers()).get_json()["notifications"]


def inbox_titles(client: FlaskClient, tenant: Tenant, user: str) -> list[str]:
    body = client.get("/notifications", headers=tenant.user_headers(user)).get_json()
    return [n["title"] for n in body["notifications"]]


def test_a_broadcast_to_emails_external_ids_and_a_topic_reaches_everyone_once(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    client.post(
        "/users",
        json={"user": {"external_id": "sub-1", "email": "sub1@example.com"}},
        headers=tenant.headers(),
    )
    for user in ("sub-1", "sub-2"):
        client.post(
            "/subscriptions",
            json={"subscription": {"topic": "launch", "categories": []}},
            headers=tenant.user_headers(user),
        )

    created = post_broadcast(
        client,
        tenant,
        content="We are live.",
        action_url="https://example.com/launch",
        category="news",
        recipients=[
            {"email": "mary@example.com"},
            {"external_id": "ext-1", "email": "ext1@example.com", "first_name": "Ext"},
            {"topic": "launch"},
            {"email": "sub1@example.com"},
        ],
    )
    done = processed(client, tenant, created["id"])

    assert sorted(smtp_sink.recipients()) == [
        "ext1@example.com",
        "mary@example.com",
        "sub1@example.com",
    ]
    [email] = smtp_sink.received_by("mary@example.com")
    assert email["Subject"] == "Launch day"
    assert "We are live." in email.get_body(("plain",)).get_content()
    assert 'href="https://example.com/launch"' in email.get_body(("html",)).get_content()
    assert done["status"]["summary"] == {"total": 4, "failures": 0}
    for user in ("ext-1", "sub-1", "sub-2"):
        assert inbox_titles(client, tenant, user) == ["Launch day"]
    by_recipient = {
        r["recipient"]["external_id"] or r["recipient"]["email"]: r
        for r in recipients(client, tenant, created["id"])
    }
    assert sorted(by_recipient) == ["ext-1", "mary@example.com", "sub-1", "sub-2"]
    assert {d["channel"]: d["status"] for d in by_recipient["sub-2"]["deliveries"]} == {
        "email": "skipped",
        "in_app": "sent",
        "push": "skipped",
    }
    assert by_recipient["ext-1"]["id"] is not None


def test_overrides_change_the_content_per_channel(
    client: FlaskClient,
    tenant: Tenant,
    runtime: Runtime,
    smtp_sink: SmtpSink,
    push_service: PushService,
    worker,
):
    browser = subscribe(runtime, tenant, push_service, "u1")
    client.put(
        "/users/external_id:u1",
        json={"user": {"email": "u1@example.com"}},
        headers=tenant.headers(),
    )
    overrides = {
        "channels": {
            "in_app": {"title": "In-app title", "content": "<b>Rich</b> inbox"},
            "email": {"title": "Email subject", "action_url": "https://example.com/mail"},
            "web_push": {"title": "Push title", "content": "Short push"},
        }
    }

    created = post_broadcast(
        client,
        tenant,
        content="Plain content",
        action_url="https://example.com/default",
        recipients=[{"external_id": "u1"}],
        overrides=overrides,
    )
    processed(client, tenant, created["id"])

    [email] = smtp_sink.received_by("u1@example.com")
    assert email["Subject"] == "Email subject"
    assert "https://example.com/mail" in email.get_body(("plain",)).get_content()
    assert "Plain content" in email.get_body(("plain",)).get_content()
    [push] = wait_until(lambda: browser.received)
    assert (push["title"], push["body"], push["url"]) == (
        "Push title",
        "Short push",
        "https://example.com/default",
    )
    inbox = client.get("/notifications", headers=tenant.user_headers("u1")).get_json()
    [row] = inbox["notifications"]
    assert (row["title"], row["content"], row["action_url"]) == (
        "In-app title",
        "<b>Rich</b> inbox",
        "https://example.com/default",
    )


def test_html_content_is_the_email_html_and_becomes_text(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    created = post_broadcast(
        client,
        tenant,
        content="<p>Hello <a href='https://example.com/x'>there</a></p>",
        recipients=[{"email": "html@example.com"}],
    )
    processed(client, tenant, created["id"])

    [email] = smtp_sink.received_by("html@example.com")
    assert "<a href='https://example.com/x'>there</a>" in email.get_body(("html",)).get_content()
    assert "Hello there (https://example.com/x)" in email.get_body(("plain",)).get_content()


def test_preferences_and_topic_opt_outs_are_honoured_and_failures_counted(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    no_email = {"categories": [{"slug": "news", "channels": [{"slug": "email", "enabled": False}]}]}
    client.put(
        "/notification_preferences",
        json={"notification_preferences": no_email},
        headers=tenant.user_headers("quiet"),
    )
    client.post(
        "/subscriptions/launch/unsubscribe",
        json={"subscription": {"categories": []}},
        headers=tenant.user_headers("gone"),
    )
    smtp_sink.fail("bounce@example.com", "550 No such mailbox")

    created = post_broadcast(
        client,
        tenant,
        category="news",
        topic="launch",
        recipients=[
            {"external_id": "quiet", "email": "quiet@example.com"},
            {"external_id": "gone", "email": "gone@example.com"},
            {"external_id": "bounce", "email": "bounce@example.com"},
            {"external_id": "fine", "email": "fine@example.com"},
        ],
    )
    done = processed(client, tenant, created["id"])

    assert smtp_sink.recipients() == ["fine@example.com"]
    assert done["status"]["summary"] == {"total": 4, "failures": 1}
    states = {
        r["recipient"]["external_id"]: {
            d["channel"]: (d["status"], d["reason"]) for d in r["deliveries"]
        }
        for r in recipients(client, tenant, created["id"])
    }
    assert states["quiet"]["email"] == ("skipped", "preference")
    assert states["quiet"]["in_app"] == ("sent", None)
    assert {s for s, _ in states["gone"].values()} == {"skipped"}
    assert states["bounce"]["email"][0] == "failed"
    assert inbox_titles(client, tenant, "gone") == []


def test_templated_sends_and_broadcasts_share_one_inbox(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    approved_template(client, tenant)
    batch(client, tenant, [{"external_id": "u1"}])
    wait_until(lambda: inbox_titles(client, tenant, "u1"), interval=0.2)

    created = post_broadcast(client, tenant, recipients=[{"external_id": "u1"}])
    processed(client, tenant, created["id"])

    assert inbox_titles(client, tenant, "u1") == ["Launch day", "Order ORD-1 confirmed"]


def test_a_broadcasts_email_content_is_stored_once_not_per_recipient(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, runtime: Runtime, worker
):
    article = "<h1>Launch</h1>" + "<p>" + "A long story. " * 20_000 + "</p>"  # ~280 KB
    people = [{"email": f"reader{i}@example.com"} for i in range(5)]

    created = post_broadcast(client, tenant, content=article, recipients=people)
    processed(client, tenant, created["id"])

    assert sorted(smtp_sink.recipients()) == sorted(p["email"] for p in people)
    for person in people:
        [email] = smtp_sink.received_by(person["email"])
        assert email.get_body(("html",)).get_content().count("A long story.") == 20_000
    with runtime.database.transaction() as session:
        payloads = session.scalars(
            select(Delivery.payload).where(
                Delivery.app_id == tenant.app_id, Delivery.channel == "email"
            )
        ).all()
    assert len(payloads) == 5
    # The address and the recipient's unsubscribe link, not the content.
    assert all(len(json.dumps(payload)) < 500 for payload in payloads)


def test_a_broadcasts_inbox_content_is_read_from_the_broadcast_not_copied(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, worker
):
    article = "<p>" + "Big news. " * 10_000 + "</p>"  # ~100 KB
    people = [{"external_id": f"reader-{i}"} for i in range(3)]

    created = post_broadcast(
        client, tenant, content=article, custom_attributes={"campaign": "fall"}, recipients=people
    )
    processed(client, tenant, created["id"])

    with runtime.database.transaction() as session:
        stored = session.execute(
            select(InboxNotification.content, InboxNotification.shared_content).where(
                InboxNotification.app_id == tenant.app_id
            )
        ).all()
    assert stored == [(None, True)] * 3
    for person in people:
        headers = tenant.user_headers(person["external_id"])
        [listed] = client.get("/notifications", headers=headers).get_json()["notifications"]
        shown = client.get(f"/notifications/{listed['id']}", headers=headers).get_json()
        for view in (listed, shown["notification"]):
            assert (view["title"], view["content"]) == ("Launch day", article)
            assert view["custom_attributes"] == {"campaign": "fall"}
