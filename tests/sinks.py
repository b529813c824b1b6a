"""Real endpoints that deliveries land in: an SMTP server and a Web Push service.

Both run in this process on loopback ports, record what arrives, and can be told to fail.
The benchmarks use them too.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.processes import free_port


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
            raise AssertionError(f"condition not met within {timeout}s: {condition}")
        time.sleep(interval)


class _SmtpHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        scripted = self.sink._next_failure(address)
        if scripted:
            return scripted
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.sink._lock:
            for recipient in envelope.rcpt_tos:
                self.sink._raw.append((recipient, envelope.content))
            self.sink.last_received_at = time.monotonic()
        return "250 Message accepted"


class SmtpSink:
    """aiosmtpd on a free port. `fail(address, "451 ...", times=2)` refuses that recipient."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        # Parsed on first read: parsing on arrival cost the benchmarks more CPU than sending.
        self._raw: list[tuple[str, bytes]] = []
        self._parsed: list[tuple[str, EmailMessage]] = []
        self.last_received_at = 0.0
        self._failures: dict[str, deque[str]] = defaultdict(deque)
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
            self._parsed.clear()
            self._failures.clear()

    def fail(self, address: str, reply: str, *, times: int = 1) -> None:
        with self._lock:
            self._failures[address.lower()].extend([reply] * times)

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

    def recipients(self) -> list[str]:
        with self._lock:
            return [r for r, _ in self._raw]

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


class PushService:
    """An HTTP push service on a free port that decrypts every payload it is given."""

    def __init__(self) -> None:
        self.port = free_port()
        self.browsers: dict[str, FakeBrowser] = {}
        self.vapid_headers: list[str] = []
        self.last_received_at = 0.0
        self._replies: dict[str, deque[int]] = defaultdict(deque)
        self._lock = threading.Lock()
        ThreadingHTTPServer.request_queue_size = 1024  # many concurrent senders in benchmarks
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> PushService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def new_browser(self) -> FakeBrowser:
        token = _b64url(os.urandom(12))
        browser = FakeBrowser(
            endpoint=f"http://127.0.0.1:{self.port}/push/{token}",
            private_key=ec.generate_private_key(ec.SECP256R1()),
            auth_secret=os.urandom(16),
        )
        with self._lock:
            self.browsers[token] = browser
        return browser

    def reply(self, browser: FakeBrowser, status: int, *, times: int = 1) -> None:
        with self._lock:
            self._replies[browser.endpoint.rsplit("/", 1)[1]].extend([status] * times)

    def total_received(self) -> int:
        with self._lock:
            return sum(len(b.received) for b in self.browsers.values())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real push services offer

            def do_POST(self) -> None:
                token = self.path.rsplit("/", 1)[1]
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with service._lock:
                    browser = service.browsers.get(token)
                    scripted = service._replies[token]
                    status = scripted.popleft() if scripted else None
                    service.vapid_headers.append(self.headers.get("Authorization", ""))
                if browser is None:
                    status = 404
                if status is None:
                    payload = http_ece.decrypt(
                        body,
                        private_key=browser.private_key,
                        auth_secret=browser.auth_secret,
                        version="aes128gcm",
                    )
                    with service._lock:
                        browser.received.append(json.loads(payload))
                        service.last_received_at = time.monotonic()
                    status = 201
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        return Handler
