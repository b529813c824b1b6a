"""One accepted WebSocket: its queue of encoded frames and the greenlet that writes them."""

from __future__ import annotations

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

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._sock.sendall(data)

    def send(self, data: bytes) -> int:
        self.sendall(data)  # simple-websocket ignores partial sends: never leave one
        return len(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Connection:
    """One WebSocket of one user. Frames queue in `outbox`; `serve` writes them.

    It is attached to the hub before the upgrade, so a client that got its 101 is already
    counted and reachable; frames arriving before `serve` starts wait in the outbox.
    """

    __slots__ = ("app_id", "closing", "outbox", "queued_bytes", "user_id", "ws")

    def __init__(self, *, app_id: str, user_id: str) -> None:
        self.app_id = app_id
        self.user_id = user_id
        self.ws: Server | None = None
        self.outbox: deque[bytes] = deque()
        self.queued_bytes = 0
        self.closing: tuple[int, str] | None = None

    def push(self, frame: bytes) -> None:
        """Queue an encoded frame and wake the socket's greenlet (never blocks)."""
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
        self.ws = ws
        try:
            while True:
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
