"""A connection's queue: bounded, so one slow client cannot eat the web process's memory."""

from __future__ import annotations

import socket
import ssl
from concurrent.futures import ThreadPoolExecutor

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


def _read(sock: socket.socket, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        received += sock.recv(65_536)
    return bytes(received)


def test_a_nonblocking_socket_takes_a_frame_from_the_writer_at_once():
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)  # as under gevent
        right.settimeout(5)
        wrapped = SerializedSocket(left)

        assert wrapped.write_now(b"frame")

        assert not wrapped.rest_pending
        assert _read(right, 5) == b"frame"


def test_what_a_full_socket_did_not_take_is_written_before_anything_else():
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.settimeout(5)
        wrapped = SerializedSocket(left)
        frame = b"z" * 10_000_000  # more than any socket buffer

        assert wrapped.write_now(frame)
        assert wrapped.rest_pending
        assert not wrapped.write_now(b"other")  # the lock stays with the unfinished frame

        left.setblocking(True)
        with ThreadPoolExecutor(1) as pool:
            reading = pool.submit(_read, right, len(frame) + 5)
            wrapped.finish()
            wrapped.sendall(b"after")
            assert reading.result() == frame + b"after"


def test_a_closed_or_blocking_socket_is_never_written_by_the_writer():
    left, right = socket.socketpair()
    with right:
        blocking = SerializedSocket(left)
        assert not blocking.write_now(b"frame")  # a threaded server's socket: its thread writes
        left.setblocking(False)
        closed = SerializedSocket(left)
        left.close()  # its number may be reused by the next client at once

        assert not closed.write_now(b"frame")


def test_a_tls_socket_is_never_written_around_its_encryption():
    """`os.write` on a TLS socket's descriptor would send plain text into the TLS stream."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    left, right = socket.socketpair()
    with right:
        left.setblocking(False)
        tls = context.wrap_socket(left, server_side=True, do_handshake_on_connect=False)
        with tls:
            assert not SerializedSocket(tls).write_now(b"frame")
