"""A connection's queue: bounded, so one slow client cannot eat the web process's memory."""

from __future__ import annotations

import socket

from app.realtime.connection import MAX_BACKLOG, Connection, SerializedSocket


def test_a_client_that_falls_too_many_frames_behind_is_closed_as_too_slow():
    conn = Connection(app_id="app", user_id="u1")
    for _ in range(MAX_BACKLOG):
        conn.push(b"frame")
    assert conn.closing is None

    conn.push(b"one too many")

    assert conn.closing == (1008, "Client too slow")
    assert len(conn.outbox) == MAX_BACKLOG


def test_a_client_that_falls_too_many_bytes_behind_is_closed_as_too_slow():
    conn = Connection(app_id="app", user_id="u1")
    conn.push(b"x" * 10_000_000)
    assert conn.closing is None  # one large frame always fits

    conn.push(b"x" * 10_000_000)

    assert conn.closing == (1008, "Client too slow")
    assert conn.queued_bytes == 10_000_000


def test_a_serialized_socket_sends_everything_even_through_send():
    left, right = socket.socketpair()
    with left, right:
        wrapped = SerializedSocket(left)
        payload = b"y" * 20_000  # well within the socket buffer: nothing blocks
        right.settimeout(5)
        received = bytearray()

        assert wrapped.send(payload[:10]) == 10
        wrapped.sendall(payload[10:])
        while len(received) < len(payload):
            received += right.recv(65_536)

        assert bytes(received) == payload
        assert wrapped.fileno() == left.fileno()
