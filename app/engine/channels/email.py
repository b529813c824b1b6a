"""Email over SMTP: multipart text + HTML, one reused connection per worker thread."""

from __future__ import annotations

import re
import smtplib
import ssl
import threading
import time
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, make_msgid, parseaddr
from urllib.parse import parse_qs, unquote, urlparse

from app.engine.channels.base import AddressRejected, PermanentFailure, TransientFailure
from app.engine.channels.dkim import DkimSigner
from app.engine.retry import Verdict, is_hard_bounce, smtp_verdict


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # "none", "starttls" or "ssl"
    username: str | None = None
    password: str | None = None
    timeout: float = 15.0

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """`smtp://user:pass@host:25`, `smtp://host:587?starttls=true` or `smtps://host:465`."""
        parsed = urlparse(url)
        if parsed.scheme not in {"smtp", "smtps"}:
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, got {parsed.scheme!r}")
        query = parse_qs(parsed.query)
        starttls = query.get("starttls", ["false"])[0].lower() in {"1", "true", "yes"}
        security = "ssl" if parsed.scheme == "smtps" else ("starttls" if starttls else "none")
        return cls(
            host=parsed.hostname or "localhost",
            port=parsed.port or (465 if security == "ssl" else 25),
            security=security,
            username=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            timeout=float(query.get("timeout", ["15"])[0]),
        )


@dataclass(frozen=True)
class OutgoingEmail:
    sender: str
    recipient: str
    subject: str
    text: str
    html: str | None
    notification_id: str
    # The recipient's one-click unsubscribe link (RFC 8058); None for a critical category.
    unsubscribe_url: str | None = None
    # The app's DKIM key: signs the message when it covers the sender's domain.
    dkim: DkimSigner | None = None


def build_message(email: OutgoingEmail) -> MIMEMultipart:
    """A multipart/alternative message with a Message-ID and the notification id header.

    Built with `email.mime` (the compat32 policy): the `EmailMessage` API re-parses every header
    it sets and cost more CPU than everything else in a delivery.
    """
    message = MIMEMultipart("alternative")
    message["From"] = email.sender
    message["To"] = email.recipient
    subject = " ".join(email.subject.split())
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    domain = parseaddr(email.sender)[1].rpartition("@")[2] or "herald.local"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Date"] = formatdate(usegmt=True)
    message["X-Herald-Notification-ID"] = email.notification_id
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.attach(MIMEText(email.text or "", "plain", "utf-8"))
    if email.html:
        message.attach(MIMEText(email.html, "html", "utf-8"))
    return message


def format_sender(email: str, name: str | None) -> str:
    return formataddr((name, email)) if name else str(Address(addr_spec=email))


# SMTP servers drop idle connections (often after 30-300 s): one idle longer than this gets a
# NOOP before it is trusted with a message.
IDLE_CHECK_S = 10.0


class SmtpSender:
    """Sends through one SMTP connection per thread, reconnecting when the server dropped it."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._local = threading.local()

    def send(self, email: OutgoingEmail) -> None:
        message = build_message(email)
        try:
            self._send_reusing_connection(message, email.dkim)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _classified(code, text) from exc
        except smtplib.SMTPResponseException as exc:
            self._drop_connection()
            raise _classified(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._drop_connection()
            raise TransientFailure(f"smtp connection failed: {exc.__class__.__name__}") from exc

    def close(self) -> None:
        self._drop_connection()

    def _send_reusing_connection(self, message: MIMEMultipart, dkim: DkimSigner | None) -> None:
        """Send once, on this thread's connection; one idle for a while is checked first.

        A message is never sent a second time here: smtplib reports a server that hung up
        during RCPT or after DATA exactly as one that dropped an idle connection, so a
        disconnect while sending is a transient failure, left to the pipeline's retry.
        """
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        idle = time.monotonic() - getattr(self._local, "used_at", 0.0)
        if connection is not None and idle > IDLE_CHECK_S and not _alive(connection):
            self._drop_connection()
            connection = None
        if connection is None:
            self._local.connection = connection = self._connect()
        _transmit(connection, message, dkim)
        self._local.used_at = time.monotonic()

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.security == "ssl":
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                cfg.host, cfg.port, timeout=cfg.timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            if cfg.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
        if cfg.username:
            connection.login(cfg.username, cfg.password or "")
        return connection

    def _drop_connection(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()


def _transmit(connection: smtplib.SMTP, message: MIMEMultipart, dkim: DkimSigner | None) -> None:
    """Send the message, signed first when the app's DKIM key covers its From domain."""
    if dkim is not None:
        sender = parseaddr(message["From"])[1]
        if dkim.covers(sender):
            connection.sendmail(sender, [parseaddr(message["To"])[1]], dkim.signed(message))
            return
    connection.send_message(message)


def _classified(code: int, text: bytes | str) -> TransientFailure | PermanentFailure:
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"smtp {code}: {detail}"[:500]
    if smtp_verdict(code) is Verdict.TRANSIENT:
        return TransientFailure(reason)
    if is_hard_bounce(code, enhanced_status(detail)):
        return AddressRejected(reason)
    return PermanentFailure(reason)


# An enhanced status code (RFC 3463) opens a reply's text: "5.1.1 User unknown".
_ENHANCED_STATUS = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})(?!\S)")


def enhanced_status(detail: str) -> str | None:
    """The enhanced status code a reply's text starts with, if any."""
    match = _ENHANCED_STATUS.match(detail)
    return match[1] if match else None


def _alive(connection: smtplib.SMTP) -> bool:
    try:
        return connection.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False
