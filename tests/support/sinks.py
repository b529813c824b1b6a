"""Real endpoints that deliveries land in: an SMTP server and a Web Push service.

Both run in this process on loopback ports, record what arrives, and can be told to fail.
The benchmarks use them too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import sys
import threading
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import http_ece
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.processes import free_port


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll until `condition()` is truthy; fail with a clear message after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: last result {value!r}")
        time.sleep(interval)


class ServedInThread:
    """An HTTP server (`_server`) that serves from a daemon thread between start() and stop()."""

    _server: ThreadingHTTPServer

    def start(self) -> Self:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.sink._lock:
            self.sink._attempts[address.lower()] += 1
        scripted = (
            self.sink._next_failure(address)
            or self.sink._greylisted(address)
            or self.sink._over_rate()
        )
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.sink.delay_s:  # a relay's time per message, without blocking other sessions
            await asyncio.sleep(self.sink.delay_s)
        with self.sink._lock:
            now = time.monotonic()
            for recipient in envelope.rcpt_tos:
                self.sink._raw.append((recipient, envelope.content))
                self.sink._received_at.append(now)
            self.sink.last_received_at = now
        return "250 Message accepted"


class SmtpSink:
    """aiosmtpd on a free port. `fail(address, "451 ...", times=2)` refuses that recipient;
    `greylist(seconds)` defers every recipient for that long after its first attempt, as a
    greylisting server does; `limit_rate(n)` defers every recipient beyond n in any second, as a
    relay with a quota does (`refusals` counts them); `delay_s` makes each message take that
    long, as a real relay does."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        # Parsed on first read: parsing on arrival cost the benchmarks more CPU than sending.
        self._raw: list[tuple[str, bytes]] = []
        self._received_at: list[float] = []  # time.monotonic() of each of `_raw`
        self._parsed: list[tuple[str, EmailMessage]] = []
        self.last_received_at = 0.0
        self.delay_s = 0.0
        self._attempts: Counter[str] = Counter()
        self._failures: dict[str, deque[str]] = defaultdict(deque)
        self._greylist_s = 0.0
        self._first_seen: dict[str, float] = {}
        self._per_second: int | None = None
        self._accepted_at: deque[float] = deque()
        self.refusals = 0
        self._lock = threading.Lock()
        self._controller = Controller(_SmtpHandler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def reset(self) -> None:
        with self._lock:
            self._raw.clear()
            self._received_at.clear()
            self._parsed.clear()
            self._failures.clear()
            self._attempts.clear()
            self._first_seen.clear()
            self._greylist_s = 0.0
            self._per_second = None
            self._accepted_at.clear()
            self.refusals = 0
        self.delay_s = 0.0

    def attempts(self, address: str) -> int:
        """How often a sender offered a message to this recipient (refused ones included)."""
        with self._lock:
            return self._attempts[address.lower()]

    def fail(self, address: str, reply: str, *, times: int = 1) -> None:
        with self._lock:
            self._failures[address.lower()].extend([reply] * times)

    def greylist(self, seconds: float) -> None:
        with self._lock:
            self._greylist_s = seconds

    def _greylisted(self, address: str) -> str | None:
        if not self._greylist_s:
            return None
        now = time.monotonic()
        with self._lock:
            first = self._first_seen.setdefault(address.lower(), now)
            if now - first < self._greylist_s:
                return "451 4.7.1 Greylisted, please try again later"
            return None

    def limit_rate(self, per_second: int | None) -> None:
        with self._lock:
            self._per_second = per_second
            self._accepted_at.clear()

    def _over_rate(self) -> str | None:
        """Past the quota of the last second (a sliding second): 451, counted in `refusals`."""
        if self._per_second is None:
            return None
        now = time.monotonic()
        with self._lock:
            while self._accepted_at and now - self._accepted_at[0] >= 1.0:
                self._accepted_at.popleft()
            if len(self._accepted_at) >= self._per_second:
                self.refusals += 1
                return "451 4.7.0 Too many messages this second, slow down"
            self._accepted_at.append(now)
            return None

    def _next_failure(self, address: str) -> str | None:
        with self._lock:
            queue = self._failures.get(address.lower())
            return queue.popleft() if queue else None

    @property
    def messages(self) -> list[tuple[str, EmailMessage]]:
        """(recipient, message) for every message received, in order of arrival."""
        with self._lock:
            for recipient, raw in self._raw[len(self._parsed) :]:
                self._parsed.append((recipient, message_from_bytes(raw, policy=policy.default)))
            return list(self._parsed)

    def received_by(self, address: str) -> list[EmailMessage]:
        return [m for r, m in self.messages if r.lower() == address.lower()]

    def raw_received_by(self, address: str) -> list[bytes]:
        """The messages for this recipient byte for byte, as signatures cover them."""
        with self._lock:
            return [raw for r, raw in self._raw if r.lower() == address.lower()]

    def recipients(self) -> list[str]:
        with self._lock:
            return [r for r, _ in self._raw]

    def arrivals(self) -> list[tuple[str, float]]:
        """(recipient, time.monotonic() of its arrival) for every message, in order."""
        with self._lock:
            return [(r, t) for (r, _), t in zip(self._raw, self._received_at, strict=True)]

    def count(self) -> int:
        with self._lock:
            return len(self._raw)


@dataclass
class FakeBrowser:
    """A browser's push subscription: the key pair and auth secret the push payload targets."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    received: list[dict[str, Any]] = field(default_factory=list)
    received_at: list[float] = field(default_factory=list)  # time.monotonic() of each

    @property
    def p256dh(self) -> str:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return _b64url(public)

    @property
    def auth(self) -> str:
        return _b64url(self.auth_secret)

    def subscription_json(self) -> dict[str, Any]:
        """What `PushSubscription.toJSON()` gives in a browser."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class PushReply:
    """A scripted answer of the push service instead of accepting the push."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class _PushServer(ThreadingHTTPServer):
    """Counts the connections it accepts and, given a TLS context, speaks https on them."""

    request_queue_size = 1024  # many concurrent senders in benchmarks
    daemon_threads = True

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler], tls: Any) -> None:
        super().__init__(("127.0.0.1", port), handler)
        self.tls = tls
        self.connections = 0

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up mid-reply (a sender reading only part of a long one) is no
        error of the service's; anything else still is."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def get_request(self) -> tuple[Any, Any]:
        connection, address = self.socket.accept()
        self.connections += 1
        if self.tls is not None:  # a failed handshake is an OSError, which socketserver drops
            connection = self.tls.wrap_socket(connection, server_side=True)
        return connection, address


class PushService(ServedInThread):
    """An HTTP push service on a free port that decrypts every payload it is given.

    Given a trustme certificate authority it speaks https instead, with a certificate for
    `hostname`; its endpoints then name that host, which a test's resolver maps to loopback.
    """

    def __init__(self, *, tls_ca: Any = None, hostname: str = "push.example.net") -> None:
        self.port = free_port()
        self.browsers: dict[str, FakeBrowser] = {}
        self.vapid_headers: list[str] = []
        self.host_headers: list[str] = []
        self.last_received_at = 0.0
        self._replies: dict[str, deque[PushReply]] = defaultdict(deque)
        self._requests: Counter[str] = Counter()
        self.delay_s = 0.0  # a push service's time per request
        self._lock = threading.Lock()
        context = None
        if tls_ca is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls_ca.issue_cert(hostname).configure_cert(context)
        self.origin = (
            f"https://{hostname}:{self.port}" if context else f"http://127.0.0.1:{self.port}"
        )
        self._server = _PushServer(self.port, self._handler_class(), context)

    @property
    def connections(self) -> int:
        """TCP connections accepted so far (a refused destination must open none)."""
        return self._server.connections

    def new_browser(self) -> FakeBrowser:
        token = _b64url(os.urandom(12))
        browser = FakeBrowser(
            endpoint=f"{self.origin}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        with self._lock:
            self.browsers[token] = browser
        return browser

    def reply(
        self,
        browser: FakeBrowser,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        scripted = PushReply(status, headers or {}, body)
        with self._lock:
            self._replies[browser.endpoint.rsplit("/", 1)[1]].extend([scripted] * times)

    def total_received(self) -> int:
        with self._lock:
            return sum(len(b.received) for b in self.browsers.values())

    def requests_to(self, browser: FakeBrowser) -> int:
        """How many pushes were posted to this subscription (refused ones included)."""
        with self._lock:
            return self._requests[browser.endpoint.rsplit("/", 1)[1]]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real push services offer

            def do_POST(self) -> None:
                token = self.path.rsplit("/", 1)[1]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if service.delay_s:
                    time.sleep(service.delay_s)
                with service._lock:
                    service._requests[token] += 1
                    browser = service.browsers.get(token)
                    scripted = service._replies[token]
                    reply = scripted.popleft() if scripted else None
                    service.vapid_headers.append(self.headers.get("Authorization", ""))
                    service.host_headers.append(self.headers.get("Host", ""))
                if browser is None:
                    reply = PushReply(404)
                if reply is None:
                    payload = http_ece.decrypt(
                        body,
                        private_key=browser.private_key,
                        auth_secret=browser.auth_secret,
                        version="aes128gcm",
                    )
                    with service._lock:
                        browser.received.append(json.loads(payload))
                        browser.received_at.append(time.monotonic())
                        service.last_received_at = browser.received_at[-1]
                    reply = PushReply(201)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: Any) -> None:
                return None

        return Handler
