"""One accepted WebSocket: its queue of encoded frames and the greenlet that writes them."""

from __future__ import annotations

import os
import ssl
import threading
from collections import deque
from typing import Any

from simple_websocket import ConnectionClosed, Server

from app.realtime.frames import PONG, is_ping, websocket_text_frame

MAX_BACKLOG = 1000  # frames queued for one socket before it counts as too slow and is closed
MAX_BACKLOG_BYTES = 16 * 1024 * 1024  # the same, in bytes (an inbox notification may be 4 MB)
PONG_FRAME = websocket_text_frame(PONG)
CLOSE_POLICY_VIOLATION = 1008


class SerializedSocket:
    """A socket whose writes never interleave: ours, and simple-websocket's pings and pongs.

    Under gevent a large `sendall` yields when the kernel buffer is full; without the lock
    simple-websocket's reader could slip a control frame into the middle of a data frame.
    """

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        # Under gevent the descriptor is non-blocking, so a write that would wait fails at once;
        # elsewhere (a threaded server) every write goes through the socket's own thread.
        # A TLS socket (gunicorn with --certfile) must encrypt: only its own methods write it.
        self._direct = not os.get_blocking(sock.fileno()) and not _is_tls(sock)
        self._rest: bytes | None = None

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._sock.sendall(data)

    def send(self, data: bytes) -> int:
        self.sendall(data)  # simple-websocket ignores partial sends: never leave one
        return len(data)

    def write_now(self, data: bytes) -> bool:
        """Write `data` from the caller, when that needs no waiting; False when nothing was written.

        When the kernel takes only part, the lock stays held and `rest_pending` is set: the
        socket's own greenlet must call `finish` (before any other write can happen).
        """
        # Asked each time, in the same greenlet step as the write: once the socket is closed
        # (-1), its number may already belong to another client's connection.
        fd = self._sock.fileno()
        if not self._direct or fd < 0 or not self._lock.acquire(blocking=False):
            return False
        try:
            written = os.write(fd, data)
        except OSError:  # full (BlockingIOError) or broken: the socket's greenlet takes over
            self._lock.release()
            return False
        if written < len(data):
            self._rest = data[written:]
        else:
            self._lock.release()
        return True

    @property
    def rest_pending(self) -> bool:
        return self._rest is not None

    def finish(self) -> None:
        """Write what `write_now` left, then let other writers in."""
        rest, self._rest = self._rest, None
        if rest is None:
            return
        try:
            self._sock.sendall(rest)
        finally:
            self._lock.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Connection:
    """One WebSocket of one user. Frames queue in `outbox`; `serve` writes them.

    It is attached to the hub before the upgrade, so a client that got its 101 is already
    counted and reachable; frames arriving before `serve` starts wait in the outbox.
    """

    __slots__ = ("app_id", "closing", "outbox", "queued_bytes", "sock", "user_id", "ws")

    def __init__(self, *, app_id: str, user_id: str) -> None:
        self.app_id = app_id
        self.user_id = user_id
        self.ws: Server | None = None
        self.sock: SerializedSocket | None = None
        self.outbox: deque[bytes] = deque()
        self.queued_bytes = 0
        self.closing: tuple[int, str] | None = None

    def push(self, frame: bytes) -> None:
        """Write an encoded frame at once if the socket takes it, else queue it (never blocks).

        Writing from the caller (the hub's fan-out) spares two greenlet switches per socket;
        a frame that cannot go out at once waits in the outbox for the socket's own greenlet.
        """
        sock = self.sock
        ws = self.ws
        idle = not self.outbox and self.closing is None and ws is not None and ws.connected
        if idle and sock is not None and sock.write_now(frame):
            if sock.rest_pending:
                self._wake()
            return
        too_many = len(self.outbox) >= MAX_BACKLOG
        if too_many or (self.outbox and self.queued_bytes + len(frame) > MAX_BACKLOG_BYTES):
            self.close(CLOSE_POLICY_VIOLATION, "Client too slow")
        else:
            self.outbox.append(frame)
            self.queued_bytes += len(frame)
        self._wake()

    def close(self, code: int, reason: str) -> None:
        """Ask the socket's greenlet to close the connection."""
        self.closing = self.closing or (code, reason)
        self._wake()

    def _wake(self) -> None:
        if self.ws is not None:
            self.ws.event.set()

    def serve(self, ws: Server) -> None:
        """Write queued frames and answer pings until the socket closes.

        simple-websocket's reader sets `ws.event` on input and on close; `push` sets it too.
        Frames arrive encoded (one encoding per message, not per socket), so they go straight
        to the socket; simple-websocket still does the handshake, control frames and close.
        """
        ws.sock = sock = SerializedSocket(ws.sock)
        self.ws, self.sock = ws, sock
        try:
            while True:
                sock.finish()
                while self.outbox and ws.connected:
                    frame = self.outbox.popleft()
                    self.queued_bytes -= len(frame)
                    sock.sendall(frame)
                while ws.input_buffer:
                    if is_ping(ws.input_buffer.pop(0)):
                        sock.sendall(PONG_FRAME)
                if self.closing is not None:
                    ws.close(*self.closing)
                    return
                if not ws.connected:
                    return
                ws.event.wait()
                ws.event.clear()
        except (ConnectionClosed, OSError):
            return
        finally:
            self.sock = None  # no more writes from the fan-out once this greenlet is done


def _is_tls(sock: Any) -> bool:
    """Stdlib and gevent TLS sockets (the latter does not subclass `ssl.SSLSocket`)."""
    return isinstance(sock, ssl.SSLSocket) or hasattr(sock, "cipher")
