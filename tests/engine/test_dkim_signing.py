"""DKIM signatures on the apps' email, checked as a receiver checks them: real worker, real SMTP
server, dkimpy's verification against the public key a stub DNS publishes."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

from app.engine.channels.dkim import DkimSigner
from app.engine.channels.email import OutgoingEmail, build_message
from app.engine.senders import APP_CHANGES_CHECK_S
from app.tenants.dkim import rsa_private_key_pem
from tests.support.dkim import rsa_key, signature_tags
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch, finished
from tests.support.sinks import SmtpSink

SETTINGS = "/api/apps/current"
RECIPIENT = "jane@example.com"


@pytest.fixture
def template(client: FlaskClient, tenant: Tenant) -> dict:
    return approved_template(client, tenant)


def configure(client: FlaskClient, tenant: Tenant, **settings: object) -> None:
    response = client.patch(SETTINGS, json=settings, headers=tenant.headers())
    assert response.status_code == 200, response.get_json()


def with_dkim(domain: str = "shop.test", selector: str = "s2024") -> dict:
    return {"dkim": {"domain": domain, "selector": selector, "privateKey": rsa_key().private_pem}}


def send_one(client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink) -> bytes:
    """Send the template to RECIPIENT; the message as the SMTP server received it."""
    before = len(smtp_sink.raw_received_by(RECIPIENT))
    sent = batch(client, tenant, [{"external_id": "jane", "email": RECIPIENT}])
    finished(client, tenant, sent["notificationId"])
    received = smtp_sink.raw_received_by(RECIPIENT)
    assert len(received) == before + 1
    return received[-1]


def test_email_from_the_dkim_domain_is_signed_and_verifies_against_the_published_key(
    client: FlaskClient, tenant: Tenant, template: dict, smtp_sink: SmtpSink, worker
):
    configure(client, tenant, senderEmail="news@shop.test", senderName="Shop", **with_dkim())

    message = send_one(client, tenant, smtp_sink)

    assert rsa_key().verifies(message, selector="s2024", domain="shop.test")
    tags = signature_tags(message)
    assert (tags["a"], tags["c"], tags["d"], tags["s"]) == (
        "rsa-sha256",
        "relaxed/relaxed",
        "shop.test",
        "s2024",
    )
    # RFC 8058: the one-click unsubscribe headers are signed too.
    assert set(tags["h"].split(":")) == {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-unsubscribe",
        "list-unsubscribe-post",
    }


def test_email_from_a_subdomain_of_the_dkim_domain_is_signed_for_the_domain(
    client: FlaskClient, tenant: Tenant, template: dict, smtp_sink: SmtpSink, worker
):
    configure(client, tenant, senderEmail="news@mail.shop.test", **with_dkim())

    message = send_one(client, tenant, smtp_sink)

    assert rsa_key().verifies(message, selector="s2024", domain="shop.test")
    assert signature_tags(message)["d"] == "shop.test"


@pytest.mark.parametrize("sender", ["news@other.test", "news@notshop.test"])
def test_email_from_another_domain_is_not_signed(
    client: FlaskClient, tenant: Tenant, template: dict, smtp_sink: SmtpSink, worker, sender: str
):
    configure(client, tenant, senderEmail=sender, **with_dkim())

    message = send_one(client, tenant, smtp_sink)

    assert b"DKIM-Signature" not in message.split(b"\r\n\r\n", 1)[0]


def test_once_the_key_is_removed_the_next_email_is_not_signed(
    client: FlaskClient, tenant: Tenant, template: dict, smtp_sink: SmtpSink, worker
):
    configure(client, tenant, senderEmail="news@shop.test", **with_dkim())
    signed = send_one(client, tenant, smtp_sink)

    configure(client, tenant, dkim=None)
    time.sleep(APP_CHANGES_CHECK_S)  # how long a change takes to reach every process's senders
    unsigned = send_one(client, tenant, smtp_sink)

    assert rsa_key().verifies(signed, selector="s2024", domain="shop.test")
    assert b"DKIM-Signature" not in unsigned.split(b"\r\n\r\n", 1)[0]


def test_the_unsubscribe_headers_are_signed_when_present():
    signer = DkimSigner("shop.test", "s1", rsa_private_key_pem(rsa_key().private_pem).encode())
    message = build_message(
        OutgoingEmail("news@shop.test", RECIPIENT, "Hello", "Hi", None, "n-1", dkim=signer)
    )
    message["List-Unsubscribe"] = "<https://herald.test/unsubscribe/token>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"

    signed = signer.signed(message)

    assert rsa_key().verifies(signed, selector="s1", domain="shop.test")
    headers = signature_tags(signed)["h"].split(":")
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(headers)


@pytest.mark.parametrize(
    ("address", "covered"),
    [
        ("news@shop.test", True),
        ("news@SHOP.test", True),
        ("news@mail.shop.test", True),
        ("news@a.b.shop.test", True),
        ("news@notshop.test", False),
        ("news@shop.test.evil.test", False),
        ("news@test", False),
    ],
)
def test_a_key_covers_its_domain_and_its_subdomains_only(address: str, covered: bool):
    signer = DkimSigner("shop.test", "s1", b"")

    assert signer.covers(address) is covered
