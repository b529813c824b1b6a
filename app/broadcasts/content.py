"""A broadcast's literal content per channel: the broadcast's fields with each channel's overrides.

Title and content are plain text or HTML (MagicBell's reference: "If you provide HTML
content, the notification inbox will render it correctly"), never templates. The email subject
is the title; email gets an HTML and a text part; push gets plain text, cut to fit a Web Push
message.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from templates_store.html_text import html_to_text

# Push services refuse payloads over 4,096 bytes once encrypted; leave room for the encryption.
PUSH_PAYLOAD_BYTES = 3000
_LOOKS_LIKE_HTML = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9-]*|/[a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?/?>")


def literal_content(broadcast: Mapping[str, Any]) -> dict[str, Any]:
    """The `LiteralContent` fields (in_app, email, push, mobile_push) the pipeline fans out."""
    return {
        "in_app": _in_app(broadcast, _part(broadcast, "in_app")),
        "email": _email(_part(broadcast, "email")),
        "push": _push(_part(broadcast, "web_push")),
        "mobile_push": _push(_part(broadcast, "mobile_push")),
    }


def _part(broadcast: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """title, content and action_url for one channel: the broadcast's, then its overrides."""
    channels = (broadcast.get("overrides") or {}).get("channels") or {}
    return {
        "title": broadcast["title"],
        "content": broadcast.get("content"),
        "action_url": broadcast.get("action_url"),
        **(channels.get(channel) or {}),
    }


def _in_app(broadcast: Mapping[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "title": part["title"],
        "body": part["content"],
        "action_url": part["action_url"],
        "category": broadcast.get("category"),
        "topic": broadcast.get("topic"),
        "custom_attributes": broadcast.get("custom_attributes") or {},
    }


def _email(part: Mapping[str, Any]) -> dict[str, Any]:
    content, url = part["content"] or "", part["action_url"]
    if is_html(content):
        body_html, text = content, html_to_text(content)
    else:
        body_html = "<p>" + html.escape(content).replace("\n", "<br>") + "</p>" if content else ""
        text = content
    if url:
        body_html += f'<p><a href="{html.escape(url)}">{html.escape(url)}</a></p>'
        text = f"{text}\n\n{url}" if text else url
    return {"subject": part["title"], "html": body_html or None, "text": text}


def _push(part: Mapping[str, Any]) -> dict[str, Any]:
    content = part["content"] or ""
    message = {"title": part["title"], "body": "", "url": part["action_url"], "data": {}}
    room = PUSH_PAYLOAD_BYTES - len(json.dumps(message).encode())
    message["body"] = _cut(html_to_text(content) if is_html(content) else content, room) or None
    return message


def _cut(text: str, room: int) -> str:
    """As much of the text as fits in `room` bytes of JSON, with an ellipsis when cut."""
    if _json_size(text) <= room:
        return text
    low, high = 0, min(len(text), max(room, 0))  # a character takes at least one byte
    while low < high:
        middle = (low + high + 1) // 2
        if _json_size(text[:middle] + "…") <= room:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…" if low else ""


def _json_size(text: str) -> int:
    return len(json.dumps(text)) - 2


def is_html(content: str) -> bool:
    """Whether content carries markup (a tag), rather than text that may mention `<` or `>`."""
    return bool(_LOOKS_LIKE_HTML.search(content))
