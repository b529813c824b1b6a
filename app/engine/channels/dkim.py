"""DKIM signing (RFC 6376) of outgoing email with an app's key: rsa-sha256, relaxed/relaxed."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message
from io import BytesIO

import dkim

# The headers a receiver judges the message by; each is signed when the message has it.
SIGNED_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


@dataclass(frozen=True)
class DkimSigner:
    """An app's signing key for `domain` (lower case), published under `selector`."""

    domain: str
    selector: str
    private_key_pem: bytes = field(repr=False)  # PKCS#1, the form dkimpy reads

    def covers(self, address: str) -> bool:
        """Whether mail from `address` is signed: its domain is ours or a subdomain of ours."""
        domain = address.rpartition("@")[2].lower().rstrip(".")
        return domain == self.domain or domain.endswith("." + self.domain)

    def signed(self, message: Message) -> bytes:
        """The message as sent over SMTP (CRLF line ends), its DKIM-Signature first."""
        flat = _flattened(message)
        signature = dkim.sign(
            flat,
            self.selector.encode(),
            self.domain.encode(),
            self.private_key_pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[name.encode() for name in SIGNED_HEADERS if name in message],
        )
        return signature + flat


def _flattened(message: Message) -> bytes:
    """What `smtplib.SMTP.send_message` would transmit, so that what is signed is what is sent."""
    buffer = BytesIO()
    BytesGenerator(buffer).flatten(message, linesep="\r\n")
    return buffer.getvalue()
