"""The wire format of realtime frames: one compact JSON object per text frame."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

MESSAGE = "message"
NOTIFICATION_NEW = "notification.new"
NOTIFICATION_READ = "notification.read"
NOTIFICATION_UNREAD = "notification.unread"
NOTIFICATION_SEEN = "notification.seen"
NOTIFICATION_ARCHIVED = "notification.archived"
NOTIFICATION_UNARCHIVED = "notification.unarchived"
NOTIFICATION_DELETED = "notification.deleted"
NOTIFICATIONS_READ_ALL = "notifications.read_all"
NOTIFICATIONS_SEEN_ALL = "notifications.seen_all"

PONG = '{"event":"pong"}'


def compact_json(value: Any) -> str:
    """JSON text without insignificant whitespace, keys in the order given."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def encode_frame(event: str, data: Mapping[str, Any]) -> str:
    """`{"event": NAME, "data": {...}}` as one line of text (JSON escapes every newline)."""
    return compact_json({"event": event, "data": dict(data)})


def is_ping(raw: str | bytes) -> bool:
    """Whether a client frame is `{"event": "ping"}`; anything else is ignored."""
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(document, dict) and document.get("event") == "ping"


def websocket_text_frame(text: str) -> bytes:
    """`text` as one unmasked WebSocket text frame (RFC 6455 5.2), as a server sends it.

    Built once per message and written as is to every socket it goes to.
    """
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload
