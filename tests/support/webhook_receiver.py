"""A real webhook receiver on loopback: a small threaded HTTP server that records every request
(headers and body exactly as received) and answers as the test scripted it. The benchmarks use
it too."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from tests.support.sinks import ServedInThread, wait_until


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def document(self) -> Any:
        return json.loads(self.body)

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events the request carried: a batch's, or the one event it is."""
        document = self.document
        return document["events"] if document.get("type") == "batch" else [document]

    def verify(self, secret: str) -> Any:
        """The standard library's verification (raises WebhookVerificationError)."""
        return Webhook(secret).verify(self.body, self.headers)


class WebhookReceiver(ServedInThread):
    """`answer(500, 200)` scripts the next answers (then 200 again); `url` is its address."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._answers: deque[int] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._record(Received(headers, body, time.monotonic()))
                answer = json.dumps({"status": status}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self._answers.extend(statuses)

    def _record(self, request: Received) -> int:
        with self._lock:
            self.received.append(request)
            return self._answers.popleft() if self._answers else 200

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def events(self) -> list[dict[str, Any]]:
        """Every event received, duplicates included, in order of arrival."""
        return [event for request in self.requests() for event in request.events]

    def unique_events(self) -> dict[str, dict[str, Any]]:
        """Event id -> event, as a receiver deduplicating by id keeps them."""
        return {event["id"]: event for event in self.events()}

    def wait_for(self, condition: Any, timeout: float = 30.0) -> Any:
        return wait_until(lambda: condition(self), timeout=timeout)
