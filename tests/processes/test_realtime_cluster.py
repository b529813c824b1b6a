"""Several web processes behind one Redis: cross-process delivery, crashes and restarts."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import websocket

from tests.support.factories import Tenant
from tests.support.processes import RunningProcess, free_port, procfile_process
from tests.support.realtime import Sockets, next_event, poll, send, socket_url

# A short presence TTL so a killed process stops counting quickly (the default is 6 s).
FAST_PRESENCE = {"REALTIME_PRESENCE_TTL_S": "2"}
HELLO = {"to": [{"type": "user", "id": "1"}], "message": "hello"}


@pytest.fixture
def two_webs(postgresql_url: str, tmp_path: Path) -> Iterator[tuple[RunningProcess, ...]]:
    with ExitStack() as stack:
        yield tuple(
            stack.enter_context(
                procfile_process(
                    "web", database_url=postgresql_url, log_dir=tmp_path, env=FAST_PRESENCE
                )
            )
            for _ in range(2)
        )


def test_a_client_on_one_process_receives_a_send_posted_to_another_and_both_count(
    two_webs: tuple[RunningProcess, ...], acme: Tenant, clients: Sockets
):
    web_a, web_b = two_webs
    on_a = clients.connect(web_a.base_url, acme, "1")
    on_b = clients.connect(web_b.base_url, acme, "1")

    answer = send(web_a.base_url, acme, HELLO)

    assert answer["delivered"] == 2
    assert next_event(on_b)["data"]["message"] == "hello"
    assert next_event(on_a)["data"]["message"] == "hello"


def test_a_killed_process_sockets_stop_counting(
    two_webs: tuple[RunningProcess, ...], acme: Tenant, clients: Sockets
):
    web_a, web_b = two_webs
    clients.connect(web_a.base_url, acme, "1")
    clients.connect(web_b.base_url, acme, "1")
    assert send(web_a.base_url, acme, HELLO)["delivered"] == 2

    web_b.kill(signal.SIGKILL)

    poll(lambda: send(web_a.base_url, acme, HELLO)["delivered"] == 1)


def test_clients_are_told_to_go_away_on_restart_and_reconnect_to_the_new_process(
    postgresql_url: str, tmp_path: Path, acme: Tenant, clients: Sockets
):
    port = free_port()
    with procfile_process("web", database_url=postgresql_url, log_dir=tmp_path, port=port) as web:
        ws = clients.connect(web.base_url, acme, "1")
        ws.send('{"event": "ping"}')
        assert next_event(ws) == {"event": "pong"}  # attached to the hub
        web.kill(signal.SIGTERM)
        opcode, payload = ws.recv_data(control_frame=True)
        assert (opcode, int.from_bytes(payload[:2], "big")) == (websocket.ABNF.OPCODE_CLOSE, 1001)

    with procfile_process("web", database_url=postgresql_url, log_dir=tmp_path, port=port) as web:
        url = socket_url(web.base_url, acme, "1")
        reconnected = poll(lambda: _try_connect(clients, url), timeout=20)

        assert send(web.base_url, acme, HELLO)["delivered"] == 1
        assert next_event(reconnected)["data"]["message"] == "hello"


def _try_connect(clients: Sockets, url: str) -> websocket.WebSocket | None:
    try:
        return clients.open(url)
    except (OSError, websocket.WebSocketException):
        return None


def test_a_client_that_stops_answering_pings_is_dropped_and_stops_counting(
    postgresql_url: str, tmp_path: Path, acme: Tenant, clients: Sockets
):
    quick_pings = {"REALTIME_PING_INTERVAL_S": "0.5"}
    with procfile_process(
        "web", database_url=postgresql_url, log_dir=tmp_path, env=quick_pings
    ) as web:
        answering = clients.connect(web.base_url, acme, "1")
        silent = clients.connect(web.base_url, acme, "1")  # unread until dropped: no pongs
        assert send(web.base_url, acme, HELLO)["delivered"] == 2

        # The live client reads (answering pings) while the other one is dropped.
        poll(lambda: _answer_pings(answering) and send(web.base_url, acme, HELLO)["delivered"] == 1)
        assert next_event(answering)["event"] == "message"  # still served
        assert _closed_by_server(silent)


def _closed_by_server(ws: websocket.WebSocket) -> bool:
    """Read until the server's close frame (or the closed connection); times out otherwise."""
    try:
        while True:
            opcode, _ = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return True
    except (websocket.WebSocketConnectionClosedException, ConnectionError):  # pong to a dead peer
        return True


def _answer_pings(ws: websocket.WebSocket) -> bool:
    """Read whatever arrived; websocket-client answers pings as it reads."""
    ws.settimeout(0.1)
    try:
        while True:
            ws.recv()
    except websocket.WebSocketTimeoutException:
        return True
    finally:
        ws.settimeout(10)
