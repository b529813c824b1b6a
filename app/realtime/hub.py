"""One web process's sockets: a local index, one Redis subscription and a presence heartbeat.

Under the Procfile's gevent worker every thread here is a greenlet. Each socket's own request
greenlet writes its frames (`Connection.serve`), so a slow client never holds up the fan-out.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redis import BlockingConnectionPool, Redis, RedisError
from redis.client import PubSub

from app.observability.metrics import metrics
from app.realtime import presence
from app.realtime.announcer import PresenceAnnouncer
from app.realtime.frames import websocket_text_frame
from app.realtime.presence import PresenceKeys

if TYPE_CHECKING:
    from app.realtime.connection import Connection
    from app.runtime import Runtime

log = logging.getLogger(__name__)

CLOSE_GOING_AWAY = 1001


class Hub:
    """The sockets of this process, routed to by the messages on its Redis channel."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.process_id = uuid.uuid4().hex
        self.keys = PresenceKeys.for_runtime(runtime)
        self.ttl = settings.realtime_presence_ttl_s
        self.redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                settings.redis_url, max_connections=settings.realtime_redis_connections, timeout=20
            ),
            health_check_interval=30,
        )
        self._index: dict[tuple[str, str], set[Connection]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._pubsub: PubSub | None = None
        self._announcer = PresenceAnnouncer(self.redis, self.keys, self.process_id)
        self._threads: list[threading.Thread] = []

    # lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe and heartbeat before any socket registers, then keep both going."""
        self._pubsub = self._subscribe()
        presence.heartbeat(self.redis, self.keys, self.process_id)
        for target in (self._listen, self._beat, self._announcer.run):
            thread = threading.Thread(target=target, name=f"herald-hub{target.__name__}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        self.runtime.local_sockets = self
        log.info("realtime hub started", extra={"process_id": self.process_id})

    def _subscribe(self) -> PubSub:
        pubsub = self.redis.pubsub()
        pubsub.subscribe(self.keys.channel(self.process_id))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=1.0)
            if message and message["type"] == "subscribe":
                return pubsub
        raise RedisError("no subscription confirmation from Redis")

    def shutdown(self) -> None:
        """Close every socket with 1001, so clients reconnect to another process.

        Never blocks, so a signal handler may call it; the heartbeat thread then withdraws
        this process's presence as it stops.
        """
        self._stopping.set()
        if self.runtime.local_sockets is self:
            self.runtime.local_sockets = None  # routing publishes to this process's channel again
        # Copies made in C, without switching: no lock needed, none may be taken here.
        for conns in list(self._index.values()):
            for conn in list(conns):
                conn.close(CLOSE_GOING_AWAY, "Server restarting")

    def close(self) -> None:
        """Shut down, let the background threads finish, and withdraw presence."""
        self.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)
        self._withdraw()
        if self._pubsub is not None:
            self._pubsub.close()
        self.redis.connection_pool.disconnect()  # the hub made this pool, so it closes it

    def _withdraw(self) -> None:
        try:
            presence.remove_process(self.redis, self.keys, process_id=self.process_id)
        except RedisError:
            log.warning("could not withdraw presence; it expires with the heartbeat")

    # sockets -------------------------------------------------------------------------------

    def attach(self, conn: Connection) -> None:
        """Index a socket locally, then announce it in Redis (so it is reachable when counted)."""
        key = (conn.app_id, conn.user_id)
        with self._lock:
            self._index.setdefault(key, set()).add(conn)
        metrics().websocket_connections.inc()
        self._announcer.change(key, +1, wait=True)

    def detach(self, conn: Connection) -> None:
        key = (conn.app_id, conn.user_id)
        with self._lock:
            conns = self._index.get(key)
            if conns is None or conn not in conns:
                return
            conns.discard(conn)
            if not conns:
                del self._index[key]
        metrics().websocket_connections.dec()
        self._announcer.change(key, -1, wait=False)

    # background ----------------------------------------------------------------------------

    def _listen(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                assert self._pubsub is not None
                message = self._pubsub.get_message(timeout=1.0)
                backoff = 0.5
            except Exception:  # RedisError mostly; nothing may end the listener
                log.warning("realtime subscription lost; reconnecting", exc_info=True)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if message and message["type"] == "message":
                self.dispatch(message["data"])

    def dispatch(self, message: bytes) -> None:
        """Queue a routed message's frames to this process's sockets of the users it names."""
        try:
            app_id, batches = presence.parse_routed(message)
            for text, user_ids in batches:
                self.deliver(app_id, user_ids, text)
        except Exception:  # one bad message must fail neither its sender nor the listener
            log.exception("realtime message not dispatched")

    def deliver(self, app_id: str, user_ids: list[str], frame: str) -> int:
        """Queue one frame (JSON text) to this process's sockets of these users; how many."""
        encoded = websocket_text_frame(frame)
        with self._lock:
            targets = [
                conn for user_id in user_ids for conn in self._index.get((app_id, user_id), ())
            ]
        for conn in targets:
            conn.push(encoded)
        if targets:
            metrics().websocket_frames.inc(len(targets))
        return len(targets)

    def _beat(self) -> None:
        while not self._stopping.wait(self.ttl / 3):
            try:
                self._beat_once()
            except Exception:  # keep beating: a process that stops beating stops counting
                log.warning("realtime heartbeat failed", exc_info=True)
        self._announcer.stop()
        self._withdraw()

    def _beat_once(self) -> None:
        if presence.heartbeat(self.redis, self.keys, self.process_id):
            # Redis forgot this process (restarted, or reaped it after a long stall).
            self._announcer.restore()
        presence.reap_dead_processes(self.redis, self.keys, ttl=self.ttl)


_hub_lock = threading.Lock()


def hub_for(extensions: dict[str, Any], runtime: Runtime) -> Hub:
    """This process's hub, started on first use (so processes without sockets never start one)."""
    with _hub_lock:
        hub = extensions.get("herald_hub")
        if hub is None:
            hub = Hub(runtime)
            hub.start()
            _close_on_exit(hub)
            extensions["herald_hub"] = hub
        return hub


def _close_on_exit(hub: Hub) -> None:
    """Close sockets promptly when gunicorn stops the worker, instead of after its grace period.

    Gunicorn's worker handles SIGTERM by stopping to accept and then waiting for open requests,
    which for a socket means until the grace period runs out; chaining its handler lets clients
    see a 1001 close at once and reconnect to another process.
    """
    atexit.register(hub.close)
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return  # not under gunicorn: keep the default SIGTERM behaviour, atexit still runs

    def on_sigterm(signum: int, frame: Any) -> None:
        hub.shutdown()
        handler: Callable[[int, Any], Any] = previous
        handler(signum, frame)

    # A real (non-gevent) thread may not set handlers; atexit still runs then.
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, on_sigterm)
