"""Standard Webhooks signatures: secrets, message ids and the headers each attempt carries.

`webhook-signature` is `v1,` + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"))
where the key is the base64-decoded part of the secret after `whsec_`. Several signatures
(a rotated secret's, during its overlap) are separated by spaces; a receiver accepts the
message when any of them verifies with the secret it holds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    """A message's `webhook-id`: unique, and the same on every attempt of the message."""
    return "msg_" + secrets.token_urlsafe(18)


def new_event_id() -> str:
    return "evt_" + secrets.token_urlsafe(18)


def signature(secret: str, *, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of a message's id, timestamp and body with one secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(
    secrets_: Sequence[str], *, message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one attempt: each secret's signature, the current one first."""
    signatures = " ".join(
        signature(secret, message_id=message_id, timestamp=timestamp, body=body)
        for secret in secrets_
    )
    return {
        "Content-Type": "application/json",
        "User-Agent": "Herald-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
