"""DKIM keys for tests, and a receiver's check of a signature against a stub DNS answer."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@dataclass(frozen=True)
class DkimKey:
    """A key pair as an operator has it: the private key to configure, the DNS record to
    publish at `<selector>._domainkey.<domain>`."""

    private_pem: str
    public_pem: str
    dns_record: bytes

    def verifies(self, message: bytes, *, selector: str, domain: str) -> bool:
        """What a receiver concludes, its DNS answering this key's record for that name only."""
        published = f"{selector}._domainkey.{domain}.".encode()

        def lookup(name: bytes, timeout: int = 5) -> bytes | None:
            return self.dns_record if name.lower() == published.lower() else None

        return bool(dkim.verify(message, dnsfunc=lookup))


@cache
def rsa_key(bits: int = 2048, *, pkcs8: bool = True) -> DkimKey:
    """An RSA key pair (generated once per run and size), PKCS#8 PEM or PKCS#1 PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    form = (
        serialization.PrivateFormat.PKCS8
        if pkcs8
        else serialization.PrivateFormat.TraditionalOpenSSL
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()
    public = key.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    public_der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    return DkimKey(private_pem, public_pem, record)


def ec_private_pem() -> str:
    """A private key that is not RSA."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def encrypted_rsa_pem() -> str:
    """An RSA private key protected by a passphrase."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()


# 512 bits, too weak for DKIM: cryptography no longer generates keys this small.
WEAK_RSA_PEM = """-----BEGIN PRIVATE KEY-----
MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAqaWTaeuHrK/GmHtu
oSJxhM+WzN4IG3uIFXgu/oT9alEStGlPDK6NVUGAnzQVx6kIqyYYOT0Gsjoy4cuE
DWWNawIDAQABAkEAgWZXhBJwwaqt+/8iimwgVKKXLxso6fWW/nFWvzMnrSB9R8cE
xzZ2jyVY7EkHExhoZXw2UUWxTqJye9JuyUweCQIhAN9w+18N/hfT7TqJ50hO8LfY
4QmKhKm52jt3hDqp08Y9AiEAwl3mJeDRB9FaNsM+lFRTqE5d7TK2R/DyA+jJPL27
hMcCIB0MSyGoaAgg/Q5HL1IvMQw1ncvnvidyifSBLSeTPHzhAiEAv4sbyM5SEPs+
hWNJ45Fq1B1OsPfd7O3FAxdAYey0xHcCIQCkivYS3ucfma9QSb1jIADUONJe43ZN
982buyns3A8tZw==
-----END PRIVATE KEY-----
"""


def signature_tags(message: bytes) -> dict[str, str]:
    """The tags of the message's DKIM-Signature header (whitespace removed from values)."""
    header = dkim.rfc822_parse(message)[0]
    value = next(v for name, v in header if name.lower() == b"dkim-signature")
    tags = (part.split(b"=", 1) for part in value.split(b";") if part.strip())
    return {name.strip().decode(): b"".join(v.split()).decode() for name, v in tags}
