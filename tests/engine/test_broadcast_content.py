"""A broadcast's content per channel: overrides, HTML or text, and push messages that fit."""

from __future__ import annotations

import json

from app.broadcasts.content import PUSH_PAYLOAD_BYTES, is_html, literal_content


def test_each_channel_takes_its_overrides_over_the_broadcasts_fields():
    content = literal_content(
        {
            "title": "Title",
            "content": "Body",
            "action_url": "https://example.com/a",
            "category": "news",
            "topic": "t-1",
            "custom_attributes": {"k": 1},
            "overrides": {
                "channels": {
                    "in_app": {"title": "Inbox title"},
                    "email": {"content": "Email body", "action_url": None},
                    "web_push": {"title": "Push title", "action_url": "https://example.com/p"},
                    "mobile_push": {"title": "Never sent"},
                }
            },
        }
    )

    assert content["in_app"] == {
        "title": "Inbox title",
        "body": "Body",
        "action_url": "https://example.com/a",
        "category": "news",
        "topic": "t-1",
        "custom_attributes": {"k": 1},
    }
    assert content["email"] == {
        "subject": "Title",
        "html": "<p>Email body</p>",
        "text": "Email body",
    }
    assert content["push"] == {
        "title": "Push title",
        "body": "Body",
        "url": "https://example.com/p",
        "data": {},
    }


def test_plain_text_is_escaped_into_the_email_html_with_the_link():
    email = literal_content(
        {"title": "T", "content": "a < b\nc", "action_url": "https://e.example/?x=1&y=2"}
    )["email"]

    assert email["html"] == (
        "<p>a &lt; b<br>c</p>"
        '<p><a href="https://e.example/?x=1&amp;y=2">https://e.example/?x=1&amp;y=2</a></p>'
    )
    assert email["text"] == "a < b\nc\n\nhttps://e.example/?x=1&y=2"


def test_a_title_only_broadcast_has_an_empty_email_body():
    content = literal_content({"title": "Only a title"})

    assert content["email"] == {"subject": "Only a title", "html": None, "text": ""}
    assert content["push"]["body"] is None


def test_long_content_is_cut_so_the_push_message_fits():
    push = literal_content(
        {"title": "é" * 255, "content": "<p>" + "ü" * 100_000 + "</p>", "action_url": None}
    )["push"]

    assert push["body"].endswith("…") and set(push["body"][:-1]) == {"ü"}
    assert len(json.dumps(push)) <= PUSH_PAYLOAD_BYTES


def test_markup_is_told_apart_from_text_that_mentions_angle_brackets():
    assert is_html("<p>Hi</p>") and is_html("Hi<br/>there") and is_html('<a href="x">x</a>')
    assert not is_html("1 < 2 and 3 > 2") and not is_html("a <- b")
