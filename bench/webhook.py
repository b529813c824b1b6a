"""The webhook part of the batch benchmark: one endpoint of the benchmark's app subscribed to
every event, a fast local receiver, and what it measured, printed before the batch's figures.

    .venv/bin/python -m bench.batch --targets 2000 --webhook

The receiver answers 204 at once and only notes what arrived (no signature checks: the tests do
those), so the figures are Herald's: the requests and events the batch produced, and how long
after the batch's last delivery its `notification.completed` event arrived.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from app.runtime import Runtime
from app.webhooks.service import create_endpoint

# The receiver listens on loopback, where endpoints may not otherwise lead (read by the
# benchmark's processes, which start after this is imported).
os.environ.setdefault("WEBHOOK_ALLOW_LOOPBACK", "true")


class BenchReceiver:
    def __init__(self) -> None:
        self.requests = 0
        self.events: dict[str, str] = {}  # event id -> type
        self.duplicates = 0
        self.completed_at: float | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._note(json.loads(body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def _note(self, document: dict[str, Any]) -> None:
        events = document["events"] if document.get("type") == "batch" else [document]
        with self._lock:
            self.requests += 1
            for event in events:
                if event["id"] in self.events:
                    self.duplicates += 1
                self.events[event["id"]] = event["type"]
                if event["type"] == "notification.completed":
                    self.completed_at = time.monotonic()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def subscribe(runtime: Runtime, app_id: str) -> BenchReceiver:
    """A receiver, and an endpoint of the app's leading to it, subscribed to every event."""
    receiver = BenchReceiver()
    with runtime.database.transaction() as session:
        create_endpoint(
            session=session,
            app_id=app_id,
            url=receiver.url,
            events=["*"],
            description="bench",
            encryptor=runtime.encryptor,
            destinations=runtime.webhook_http.guard,
        )
    return receiver


@contextmanager
def receiving(runtime: Runtime, app: Any, smtp: Any, push: Any, *, enabled: bool) -> Iterator[None]:
    """With `enabled`, an endpoint of the app's for every event while the benchmark runs; on the
    way out (before the worker stops) waits for the batch's `notification.completed` and prints
    when it came, from the batch's acceptance and from its last delivery (email or push)."""
    if not enabled:
        yield
        return
    receiver = subscribe(runtime, app.app_id)
    try:
        yield
        last_delivery = max(smtp.last_received_at, push.last_received_at)
        measured = figures(receiver, app.started, last_delivery)
        measured["time_to_last_delivery_s"] = round(last_delivery - app.started, 2)
        print("webhooks:", json.dumps(measured, indent=2), flush=True)
    finally:
        receiver.stop()


def figures(receiver: BenchReceiver, started: float, last_delivery: float) -> dict[str, Any]:
    """Waits (up to a minute) for `notification.completed`; what the receiver measured."""
    deadline = time.monotonic() + 60
    while receiver.completed_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    completed = receiver.completed_at
    return {
        "webhook_requests": receiver.requests,
        "webhook_events": len(receiver.events),
        "webhook_duplicate_events": receiver.duplicates,
        "completed_event_s": None if completed is None else round(completed - started, 2),
        "completed_event_after_last_delivery_s": (
            None if completed is None else round(completed - last_delivery, 2)
        ),
    }
