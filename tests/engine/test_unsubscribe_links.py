"""Unsubscribe tokens, the headers that carry them, and which SMTP refusals are hard bounces:
pure logic, no services."""

from __future__ import annotations

import base64
import json

import pytest

from app.engine.channels.email import OutgoingEmail, build_message, enhanced_status
from app.engine.retry import is_hard_bounce
from app.security import signed_token
from app.suppressions.links import UnsubscribeLink, UnsubscribeLinks

LINKS = UnsubscribeLinks(secret_key="installation-key", public_url="https://herald.example/")
LINK = UnsubscribeLink("app-1", "user-1", "newsletter")


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_a_link_names_its_app_user_and_category_under_the_public_url():
    url = LINKS.url(LINK)

    assert url.startswith("https://herald.example/unsubscribe/")
    assert LINKS.read(token_of(url)) == LINK


def test_a_link_for_all_of_an_apps_email_has_no_category():
    every_email = UnsubscribeLink("app-1", "user-1", None)

    assert LINKS.read(token_of(LINKS.url(every_email))) == every_email


def test_a_changed_payload_is_refused_even_with_a_valid_signature():
    payload, signature = token_of(LINKS.url(LINK)).split(".")
    values = ["app-1", "user-2", "newsletter"]
    forged = base64.urlsafe_b64encode(json.dumps(values).encode()).rstrip(b"=").decode()

    assert LINKS.read(f"{forged}.{signature}") is None
    assert LINKS.read(f"{payload}.{signature[:-2]}AA") is None
    assert LINKS.read(payload) is None


@pytest.mark.parametrize(
    "token",
    [
        token_of(UnsubscribeLinks("another-key", "https://herald.example").url(LINK)),
        signed_token("installation-key", "another purpose", ["app-1", "user-1", "newsletter"]),
        signed_token("installation-key", "unsubscribe", ["app-1", "user-1"]),
        signed_token("installation-key", "unsubscribe", [None, "user-1", "newsletter"]),
        "not-a-token",
        "é.é",
        "x" * 5000,
    ],
    ids=["other key", "other purpose", "too few values", "no app", "garbage", "non-ascii", "long"],
)
def test_tokens_this_installation_did_not_sign_as_links_are_refused(token: str):
    assert LINKS.read(token) is None


def outgoing(unsubscribe_url: str | None) -> OutgoingEmail:
    return OutgoingEmail(
        sender="news@shop.test",
        recipient="jane@example.com",
        subject="News",
        text="Hello",
        html=None,
        notification_id="n-1",
        unsubscribe_url=unsubscribe_url,
    )


def test_an_email_with_a_link_carries_the_one_click_headers():
    message = build_message(outgoing("https://herald.example/unsubscribe/t.s"))

    assert message["List-Unsubscribe"] == "<https://herald.example/unsubscribe/t.s>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_email_without_a_link_carries_no_unsubscribe_headers():
    message = build_message(outgoing(None))

    assert message["List-Unsubscribe"] is None
    assert message["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize(
    ("code", "text", "hard"),
    [
        (550, "5.1.1 No such user", True),
        (550, "5.1.2 Host unknown", True),
        (553, "5.1.3 Bad address syntax", True),
        (551, "5.1.6 Mailbox moved", True),
        (556, "5.1.10 Recipient address has null MX", True),
        (550, "5.7.1 Rejected by policy", False),
        (553, "5.1.8 Bad sender's system address", False),
        (552, "5.2.2 Mailbox full", False),
        (550, "No such user here", False),
        (450, "4.1.1 Try again", False),
        (550, "5.1.15 Not a real code", False),
    ],
)
def test_only_permanent_refusals_of_the_recipients_address_are_hard_bounces(
    code: int, text: str, hard: bool
):
    assert is_hard_bounce(code, enhanced_status(text)) is hard


def test_the_enhanced_status_is_read_from_the_start_of_the_reply():
    assert enhanced_status("5.1.1 <jane@example.com>: Recipient address rejected") == "5.1.1"
    assert enhanced_status("  5.1.10 null MX") == "5.1.10"
    assert enhanced_status("Rejected, see 5.1.1") is None
    assert enhanced_status("5.1.1.2 odd") is None
