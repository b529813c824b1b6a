"""Real WebSocket clients and HTTP calls against real web processes, for the realtime tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import websocket

from app.config import Settings
from app.runtime import Runtime
from app.security import user_hmac
from tests.support.factories import Tenant
from tests.support.sinks import wait_until

TIMEOUT = 10.0


def runtime_for(database_url: str) -> Runtime:
    """A runtime on the same database and Redis prefix as the web processes the test starts."""
    return Runtime.from_settings(Settings.from_env(database_url=database_url))


def socket_url(base_url: str, tenant: Tenant, user_id: str | None, **params: str | None) -> str:
    """`/ws` with query credentials; `params` override or (given None) drop any of them."""
    query: dict[str, str | None] = {"api_key": tenant.api_key}
    if user_id is not None:
        query["user_id"] = user_id
        query["user_hmac"] = user_hmac(tenant.secret, user_id)
    query.update(params)
    given = {name: value for name, value in query.items() if value is not None}
    return base_url.replace("http://", "ws://") + "/ws?" + urllib.parse.urlencode(given)


@dataclass
class Sockets:
    """Opens client sockets and closes every one of them when the test ends."""

    opened: list[websocket.WebSocket] = field(default_factory=list)

    def connect(
        self, base_url: str, tenant: Tenant, user_id: str | None, **params: str | None
    ) -> websocket.WebSocket:
        return self.open(socket_url(base_url, tenant, user_id, **params))

    def open(self, url: str, header: dict[str, str] | None = None) -> websocket.WebSocket:
        ws = websocket.create_connection(url, timeout=TIMEOUT, header=header)
        self.opened.append(ws)
        return ws

    def close_all(self) -> None:
        for ws in self.opened:
            ws.close()
            ws.shutdown()  # close() skips the socket when the server closed first
        self.opened.clear()


@contextmanager
def sockets() -> Iterator[Sockets]:
    opened = Sockets()
    try:
        yield opened
    finally:
        opened.close_all()


def next_event(ws: websocket.WebSocket) -> dict[str, Any]:
    """The next frame, parsed (fails after TIMEOUT seconds)."""
    return json.loads(ws.recv())


def handshake_refusal(url: str) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a refused WebSocket handshake."""
    try:
        ws = websocket.create_connection(url, timeout=TIMEOUT)
    except websocket.WebSocketBadStatusException as exc:
        return exc.status_code, json.loads(exc.resp_body or b"{}")
    ws.close()
    raise AssertionError(f"handshake to {url} was accepted")


def call(
    base_url: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any = None,
) -> tuple[int, Any]:
    """An HTTP call with a JSON body; returns status and parsed JSON (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base_url + path,
        data=data,
        method=method,
        headers={**headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
        exc.close()
    return status, json.loads(raw) if raw else None


def send(base_url: str, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    """POST /send; asserts 200 and returns the response body."""
    status, answer = call(base_url, "POST", "/send", tenant.headers(), body)
    assert status == 200, answer
    return answer


def poll(check: Any, *, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """`wait_until` at a pace for calls over the network."""
    return wait_until(check, timeout, interval)
