"""The server side of one HTTP/2 connection, on the h2 library, for the fake APNs.

One thread owns the connection: it reads, feeds h2, answers each request once its stream
ends and writes, so neither h2's state nor the TLS socket is ever used from two threads.
Other threads ask it to send GOAWAY or to close; it notices within _POLL_S.

Its GOAWAY names the last stream up to which every stream has been answered; streams after
it that are still arriving are never answered, and the connection closes once the client has
closed it or after a grace period. A client reading the GOAWAY thus knows which requests were
not processed and retries them on a new connection (httpx does so by itself); closing at
once would instead fail the client's next write. h2 accepts no frame after a GOAWAY of its
own, so the frame is written beside it.
"""

from __future__ import annotations

import math
import select
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import h2.events
import h2.exceptions
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.settings import SettingCodes, Settings
from hyperframe.frame import GoAwayFrame

Headers = list[tuple[str, str]]
Responder = Callable[[Headers, bytes], tuple[Headers, bytes]]

_POLL_S = 0.05
_READ_SIZE = 65536
# Clients multiplex many pushes on one connection (APNs allows about 1000 streams at once); a
# large connection window lets them upload bodies without waiting for WINDOW_UPDATEs.
_MAX_CONCURRENT_STREAMS = 1000
_EXTRA_CONNECTION_WINDOW = 16 * 1024 * 1024


@dataclass
class _Stream:
    headers: Headers
    body: bytearray = field(default_factory=bytearray)


class Http2Connection:
    """Serves requests on one TLS socket that negotiated h2, answering each with `respond`."""

    def __init__(self, tls_socket: ssl.SSLSocket, respond: Responder) -> None:
        self._socket = tls_socket
        self._respond = respond
        self._h2 = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        self._h2.local_settings = Settings(
            client=False,
            initial_values={SettingCodes.MAX_CONCURRENT_STREAMS: _MAX_CONCURRENT_STREAMS},
        )
        self._streams: dict[int, _Stream] = {}
        self._unsent: dict[int, bytes] = {}  # response bodies waiting for flow-control window
        self._client_gone = False
        self._goaway_debug_data = b""
        self._grace_s = 0.0
        self._last_stream_served: int | None = None  # set by our GOAWAY
        self._close_at = math.inf  # time.monotonic()
        self._goaway_requested = threading.Event()
        self._close_requested = threading.Event()
        self.goaway_sent = threading.Event()
        self.finished = threading.Event()

    def request_goaway(self, debug_data: bytes, grace_s: float) -> None:
        """Send GOAWAY with this debug data, then close once the client has, or after
        `grace_s` seconds."""
        self._goaway_debug_data = debug_data
        self._grace_s = grace_s
        self._goaway_requested.set()

    def request_close(self) -> None:
        """Close now, after a GOAWAY if none was sent."""
        self._close_requested.set()

    def serve(self) -> None:
        try:
            self._h2.initiate_connection()
            self._h2.increment_flow_control_window(_EXTRA_CONNECTION_WINDOW)
            self._flush()
            self._serve_until_closed()
        except h2.exceptions.ProtocolError:
            self._flush()  # h2 has queued the GOAWAY naming the client's error
        finally:
            self.goaway_sent.set()
            self.finished.set()

    def _serve_until_closed(self) -> None:
        while not self._client_gone and time.monotonic() < self._close_at:
            if self._goaway_requested.is_set() or self._close_requested.is_set():
                self._send_goaway_once()
            if self._close_requested.is_set():
                return
            if not self._readable():
                continue
            data = self._socket.recv(_READ_SIZE)
            if not data:
                return
            for event in self._h2.receive_data(data):
                self._handle(event)
            self._flush()

    def _send_goaway_once(self) -> None:
        if self._last_stream_served is not None:
            return
        # Streams still arriving are not processed, and the GOAWAY says so: it names the stream
        # before the first of them. (Later streams already answered are complete for the
        # client: their answers precede the GOAWAY.)
        arriving = min(self._streams, default=None)
        if arriving is None:
            self._last_stream_served = self._h2.highest_inbound_stream_id
        else:
            self._last_stream_served = max(0, arriving - 2)
        goaway = GoAwayFrame(
            last_stream_id=self._last_stream_served, additional_data=self._goaway_debug_data
        )
        self._flush()
        self._socket.sendall(goaway.serialize())
        self._close_at = time.monotonic() + self._grace_s
        self.goaway_sent.set()

    def _readable(self) -> bool:
        """Whether a read would find data, waiting up to _POLL_S for some."""
        # Bytes already decrypted wait in the TLS layer, where select cannot see them.
        if self._socket.pending():
            return True
        readable, _, _ = select.select([self._socket], [], [], _POLL_S)
        return bool(readable)

    def _handle(self, event: h2.events.Event) -> None:
        match event:
            case h2.events.RequestReceived(stream_id=stream_id, headers=headers):
                self._streams[stream_id] = _Stream(list(headers))
            case h2.events.DataReceived(stream_id=stream_id, data=data):
                self._streams[stream_id].body += data
                # h2 sends WINDOW_UPDATE for the stream and the connection once enough
                # is acknowledged, so a client can keep sending.
                self._h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
            case h2.events.StreamEnded(stream_id=stream_id):
                self._answer(stream_id)
            case h2.events.StreamReset(stream_id=stream_id):
                self._streams.pop(stream_id, None)
                self._unsent.pop(stream_id, None)
            case h2.events.WindowUpdated():
                self._send_unsent()
            case h2.events.ConnectionTerminated():
                self._client_gone = True

    def _answer(self, stream_id: int) -> None:
        stream = self._streams.pop(stream_id)
        if self._last_stream_served is not None and stream_id > self._last_stream_served:
            return  # our GOAWAY told the client it was not processed: it retries it elsewhere
        headers, body = self._respond(stream.headers, bytes(stream.body))
        try:
            self._h2.send_headers(stream_id, headers, end_stream=not body)
        except h2.exceptions.StreamClosedError:  # the client reset it meanwhile
            return
        if body:
            self._unsent[stream_id] = body
            self._send_unsent()

    def _send_unsent(self) -> None:
        """Send what the client's flow-control windows allow of each waiting body."""
        for stream_id, body in list(self._unsent.items()):
            try:
                while body:
                    window = self._h2.local_flow_control_window(stream_id)
                    chunk = body[: min(window, self._h2.max_outbound_frame_size)]
                    if not chunk:
                        break
                    body = body[len(chunk) :]
                    self._h2.send_data(stream_id, chunk, end_stream=not body)
            except h2.exceptions.StreamClosedError:
                body = b""
            if body:
                self._unsent[stream_id] = body
            else:
                del self._unsent[stream_id]

    def _flush(self) -> None:
        outgoing = self._h2.data_to_send()
        if outgoing:
            self._socket.sendall(outgoing)
