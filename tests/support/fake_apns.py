"""A fake of Apple's push service, api.push.apple.com: HTTP/2 only, over TLS, token auth.

Each accepted connection gets a thread that speaks HTTP/2 with the h2 library and answers
`POST /3/device/<token>` as APNs does: it checks the provider JWT (ES256, signed by a key the
test trusted, at most an hour old), the apns-* headers and the payload, then answers as the
test scripted for that device token, by default 200 with an apns-id header. Errors are
Apple's: a status and `{"reason": ...}` (410 adds "timestamp", in ms), as
tests/support/fake_apns_replies.py makes them.
"""

from __future__ import annotations

import json
import re
import socketserver
import ssl
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import jwt
import trustme

from tests.support.fake_apns_connection import Http2Connection
from tests.support.fake_apns_replies import (
    ApnsReply,
    Refused,
    answered_apns_id,
    apns_accepted,
    check_apns_headers,
    check_payload,
    http2_response,
    json_or_none,
)
from tests.support.mobile_push_keys import ApnsKey

_HANDSHAKE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ApnsRequest:
    """One request as received, with the answer it got."""

    device_token: str
    headers: dict[str, str]  # pseudo-headers (":path", ...) included
    payload: Any  # the decoded JSON body; None if it was not JSON
    status: int
    reason: str | None


class _Listener(socketserver.ThreadingTCPServer):
    """Accepts connections, counts them, and gives each a thread of its own."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, fake: FakeApns) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _ConnectionHandler)

    def get_request(self) -> tuple[Any, Any]:
        accepted = super().get_request()
        self.fake._count_connection()
        return accepted

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up or fails the handshake is no error of the fake's; a bug in
        the fake is printed and kept in `errors`, and ends only its own connection."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # ssl.SSLError included
            return
        self.fake._record_error(error)
        super().handle_error(request, client_address)


class _ConnectionHandler(socketserver.BaseRequestHandler):
    server: _Listener

    def handle(self) -> None:
        self.server.fake._serve(self.request)


class FakeApns:
    """api.push.apple.com on a loopback port, with a certificate `tls_ca` issued for localhost
    and 127.0.0.1; `url` is APNs' base URL (APNS_BASE_URL)."""

    def __init__(self, tls_ca: trustme.CA) -> None:
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.minimum_version = ssl.TLSVersion.TLSv1_2
        self._tls.set_alpn_protocols(["h2"])
        tls_ca.issue_cert("localhost", "127.0.0.1").configure_cert(self._tls)
        self._lock = threading.Lock()
        self._keys: dict[str, ApnsKey] = {}  # by key id
        self._topics: dict[str, set[str]] = defaultdict(set)  # bundle ids, by team id
        self._scripts: dict[str, deque[ApnsReply]] = defaultdict(deque)
        self._requests: list[ApnsRequest] = []
        self._tokens_seen: dict[str, None] = {}  # an ordered set
        self._expired_tokens: set[str] = set()
        self._connections_opened = 0
        self._open: set[Http2Connection] = set()
        self.errors: list[BaseException | None] = []
        self._listener = _Listener(self)
        self.url = f"https://localhost:{self._listener.server_address[1]}"
        self._thread = threading.Thread(
            target=self._listener.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._listener.shutdown()
        self._listener.server_close()
        for connection in self._open_connections():
            connection.request_close()
            connection.finished.wait(timeout=5)
        self._thread.join()

    # Arranging.

    def trust(self, key: ApnsKey, bundle_ids: Iterable[str]) -> None:
        """Accept provider tokens signed by `key` for these apps of its team."""
        with self._lock:
            self._keys[key.key_id] = key
            self._topics[key.team_id].update(bundle_ids)

    def script(self, device_token: str, *replies: ApnsReply) -> None:
        """Answer the next requests to this device token with `replies`, in order; 200s
        after."""
        with self._lock:
            self._scripts[device_token].extend(replies)

    def expire_provider_tokens(self) -> None:
        """Refuse every provider token seen so far (403 ExpiredProviderToken), as APNs does
        once they are an hour old; tokens made from now on are accepted."""
        with self._lock:
            self._expired_tokens.update(self._tokens_seen)

    def goaway(self, reason: str = "Shutdown", *, grace_s: float = 2.0) -> None:
        """Send GOAWAY on every open connection, as APNs does when it sheds connections:
        NO_ERROR, the last stream up to which all were answered, and `{"reason": reason}` as
        debug data; returns once all are sent. No later stream is answered; each connection
        closes once its client has, or after `grace_s`."""
        debug_data = json.dumps({"reason": reason}).encode()
        connections = self._open_connections()
        for connection in connections:
            connection.request_goaway(debug_data, grace_s)
        for connection in connections:
            connection.goaway_sent.wait(timeout=5)

    # Inspecting.

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far."""
        with self._lock:
            return self._connections_opened

    @property
    def requests(self) -> list[ApnsRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def provider_tokens_seen(self) -> list[str]:
        """Each distinct authorization bearer token, in order of first use."""
        with self._lock:
            return list(self._tokens_seen)

    # Serving.

    def _open_connections(self) -> list[Http2Connection]:
        with self._lock:
            return list(self._open)

    def _count_connection(self) -> None:
        with self._lock:
            self._connections_opened += 1

    def _record_error(self, error: BaseException | None) -> None:
        with self._lock:
            self.errors.append(error)

    def _serve(self, raw: Any) -> None:
        # The handshake runs in this connection's thread: a slow client delays no other.
        raw.settimeout(_HANDSHAKE_TIMEOUT_S)
        with self._tls.wrap_socket(raw, server_side=True) as tls_socket:
            tls_socket.settimeout(None)
            if tls_socket.selected_alpn_protocol() != "h2":  # APNs speaks nothing else
                return
            connection = Http2Connection(tls_socket, self._respond)
            with self._lock:
                self._open.add(connection)
            try:
                connection.serve()
            finally:
                with self._lock:
                    self._open.discard(connection)

    def _respond(
        self, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[list[tuple[str, str]], bytes]:
        """The response headers and body for one request (called by connection threads)."""
        fields = {name: value for name, value in headers}
        path = fields.get(":path", "")
        device_token = path.removeprefix("/3/device/") if path.startswith("/3/device/") else ""
        payload = json_or_none(body)
        try:
            self._check_request(fields, headers, device_token, body, payload)
            reply = self._next_reply(device_token)
        except Refused as refused:
            reply = refused.reply
        request = ApnsRequest(device_token, fields, payload, reply.status, reply.reason)
        with self._lock:
            self._requests.append(request)
        return http2_response(reply, answered_apns_id(fields))

    def _check_request(
        self,
        fields: dict[str, str],
        headers: list[tuple[str, str]],
        device_token: str,
        body: bytes,
        payload: Any,
    ) -> None:
        """Refuse the request as APNs would, if it would."""
        if fields.get(":method") != "POST":
            raise Refused("MethodNotAllowed")
        if not fields.get(":path", "").startswith("/3/device/"):
            raise Refused("BadPath")
        if not device_token:
            raise Refused("MissingDeviceToken")
        team_id = self._provider_team(fields.get("authorization"))
        check_apns_headers(fields, headers)
        self._check_topic(team_id, fields.get("apns-topic"))
        check_payload(body, payload)
        if len(device_token) % 2 or not re.fullmatch(r"[0-9a-fA-F]+", device_token):
            raise Refused("BadDeviceToken")

    def _provider_team(self, authorization: str | None) -> str:
        """The team whose key signed this request's provider token."""
        if not authorization:
            raise Refused("MissingProviderToken")
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            if token:
                self._tokens_seen.setdefault(token)
            expired = token in self._expired_tokens
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Refused("InvalidProviderToken") from exc
        with self._lock:
            key = self._keys.get(header.get("kid", ""))
        if scheme.lower() != "bearer" or header.get("alg") != "ES256" or key is None:
            raise Refused("InvalidProviderToken")
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=["ES256"],
                options={"require": ["iss", "iat"], "verify_iat": False, "verify_exp": False},
            )
        except jwt.InvalidTokenError as exc:
            raise Refused("InvalidProviderToken") from exc
        issued_at = claims["iat"]
        if claims["iss"] != key.team_id or not isinstance(issued_at, int | float):
            raise Refused("InvalidProviderToken")
        if expired or issued_at < time.time() - 3600:
            raise Refused("ExpiredProviderToken")
        return key.team_id

    def _check_topic(self, team_id: str, topic: str | None) -> None:
        if not topic:
            raise Refused("MissingTopic")
        with self._lock:
            allowed = topic in self._topics[team_id]
        if not allowed:
            raise Refused("TopicDisallowed")

    def _next_reply(self, device_token: str) -> ApnsReply:
        with self._lock:
            script = self._scripts.get(device_token)
            return script.popleft() if script else apns_accepted()
