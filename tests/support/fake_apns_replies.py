"""Apple's answers, for the fake APNs (tests/support/fake_apns.py): the reasons APNs gives and
the status each comes with, the replies a test scripts for a device token, the refusals of a
request's apns-* headers and payload, and the HTTP/2 response that carries a reply.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

MAX_PAYLOAD_BYTES = 4096
_PUSH_TYPES = frozenset(
    {"alert", "background", "location", "voip", "complication", "fileprovider", "mdm"}
    | {"liveactivity", "pushtotalk", "widgets", "controls"}
)
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# Apple's reasons (developer.apple.com, "Handling notification responses from APNs") and the
# status each comes with. BadPayload, for a body that is not a JSON object with an "aps"
# dictionary, is not in Apple's table.
_REASONS_BY_STATUS: dict[int, tuple[str, ...]] = {
    400: (
        "BadCollapseId",
        "BadDeviceToken",
        "BadExpirationDate",
        "BadMessageId",
        "BadPriority",
        "BadTopic",
        "DeviceTokenNotForTopic",
        "DuplicateHeaders",
        "IdleTimeout",
        "InvalidPushType",
        "MissingDeviceToken",
        "MissingTopic",
        "PayloadEmpty",
        "TopicDisallowed",
        "BadPayload",
    ),
    403: (
        "BadCertificate",
        "BadCertificateEnvironment",
        "ExpiredProviderToken",
        "Forbidden",
        "InvalidProviderToken",
        "MissingProviderToken",
        "UnrelatedKeyIdInToken",
        "BadEnvironmentKeyInToken",
    ),
    404: ("BadPath",),
    405: ("MethodNotAllowed",),
    410: ("ExpiredToken", "Unregistered"),
    413: ("PayloadTooLarge",),
    429: ("TooManyProviderTokenUpdates", "TooManyRequests"),
    500: ("InternalServerError",),
    503: ("ServiceUnavailable", "Shutdown"),
}
_STATUS_OF_REASON = {
    reason: status for status, reasons in _REASONS_BY_STATUS.items() for reason in reasons
}


@dataclass(frozen=True)
class ApnsReply:
    """How the fake answers one request; `reason` None is the accepted answer."""

    status: int
    reason: str | None = None
    retry_after: int | None = None


def apns_error(reason: str, *, retry_after: int | None = None) -> ApnsReply:
    """Apple's answer with this reason (one of _REASONS_BY_STATUS) and its status;
    `retry_after` adds a Retry-After header (seconds)."""
    return ApnsReply(_STATUS_OF_REASON[reason], reason, retry_after)


def apns_accepted() -> ApnsReply:
    return ApnsReply(200)


class Refused(Exception):
    """A request APNs would refuse, with Apple's reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reply = apns_error(reason)


def answered_apns_id(fields: dict[str, str]) -> str:
    """The provider's apns-id, which APNs echoes, or one it makes up."""
    given = fields.get("apns-id", "")
    return given if _CANONICAL_UUID.fullmatch(given) else str(uuid.uuid4())


def json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def check_apns_headers(fields: dict[str, str], headers: list[tuple[str, str]]) -> None:
    apns_names = [name for name, _ in headers if name.startswith("apns-")]
    if len(apns_names) != len(set(apns_names)):
        raise Refused("DuplicateHeaders")
    push_type = fields.get("apns-push-type")
    if push_type is not None and push_type not in _PUSH_TYPES:
        raise Refused("InvalidPushType")
    if fields.get("apns-priority", "10") not in {"1", "5", "10"}:
        raise Refused("BadPriority")
    if not fields.get("apns-expiration", "0").isdigit():
        raise Refused("BadExpirationDate")
    if "apns-id" in fields and not _CANONICAL_UUID.fullmatch(fields["apns-id"]):
        raise Refused("BadMessageId")
    if len(fields.get("apns-collapse-id", "").encode()) > 64:
        raise Refused("BadCollapseId")


def check_payload(body: bytes, payload: Any) -> None:
    if not body:
        raise Refused("PayloadEmpty")
    if len(body) > MAX_PAYLOAD_BYTES:
        raise Refused("PayloadTooLarge")
    if not isinstance(payload, dict) or not isinstance(payload.get("aps"), dict):
        raise Refused("BadPayload")


def http2_response(reply: ApnsReply, apns_id: str) -> tuple[list[tuple[str, str]], bytes]:
    headers = [(":status", str(reply.status)), ("apns-id", apns_id)]
    if reply.reason is None:
        return headers, b""
    error: dict[str, Any] = {"reason": reply.reason}
    if reply.status == 410:  # when APNs learnt the token is no longer valid
        error["timestamp"] = time.time_ns() // 1_000_000
    body = json.dumps(error).encode()
    headers += [("content-type", "application/json"), ("content-length", str(len(body)))]
    if reply.retry_after is not None:
        headers.append(("retry-after", str(reply.retry_after)))
    return headers, body
