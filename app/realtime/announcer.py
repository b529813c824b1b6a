"""Writes one web process's presence changes to Redis: in order, batched, from one thread.

Sockets come and go in bursts (a restart reconnects thousands at once). Each change is queued
here and one thread writes everything queued in one pipelined round trip, on one connection, so
changes never overtake each other and no socket waits behind a lock for its own round trip.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import Redis

from app.realtime import presence
from app.realtime.presence import PresenceKeys

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (app id, Herald user id)
MAX_BATCH = 1000
ANNOUNCE_TIMEOUT_S = 10.0


@dataclass
class _Change:
    key: Key
    delta: int
    done: threading.Event | None = None


@dataclass
class PresenceAnnouncer:
    redis: Redis
    keys: PresenceKeys
    process_id: str
    # What Redis has been told, per user: rewritten as a whole when Redis forgot this process.
    announced: dict[Key, int] = field(default_factory=dict)
    _pending: dict[Key, int] = field(default_factory=dict)
    _queue: queue.Queue[_Change | Callable[[], None] | None] = field(default_factory=queue.Queue)

    def change(self, key: Key, delta: int, *, wait: bool) -> None:
        """Queue a change of a user's socket count; `wait` until Redis has it (or it failed)."""
        done = threading.Event() if wait else None
        self._queue.put(_Change(key, delta, done))
        if done is not None:
            done.wait(ANNOUNCE_TIMEOUT_S)

    def restore(self) -> None:
        """Queue a rewrite of everything announced (Redis restarted, or reaped this process)."""
        self._queue.put(self._write_announced)

    def stop(self) -> None:
        self._queue.put(None)

    def run(self) -> None:
        """The writer loop: take what is queued, write it in one round trip, repeat."""
        while (batch := self._next_batch()) is not None:
            waiting = [item.done for item in batch if isinstance(item, _Change) and item.done]
            for item in batch:
                if isinstance(item, _Change):
                    self._pending[item.key] = self._pending.get(item.key, 0) + item.delta
                else:
                    item()
            self._flush()
            for done in waiting:
                done.set()

    def _next_batch(self) -> list[_Change | Callable[[], None]] | None:
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(item)
        return batch

    def _flush(self) -> None:
        changes = {key: delta for key, delta in self._pending.items() if delta}
        if not changes:
            self._pending.clear()
            return
        try:
            presence.apply_changes(
                self.redis, self.keys, process_id=self.process_id, changes=changes
            )
        except Exception:  # RedisError, or anything else: the writer thread must survive
            # Kept pending: the next batch (or the heartbeat's rewrite) retries them.
            log.warning("presence update failed; will retry", exc_info=True)
            return
        self._pending.clear()
        for key, delta in changes.items():
            count = self.announced.get(key, 0) + delta
            if count > 0:
                self.announced[key] = count
            else:
                self.announced.pop(key, None)

    def _write_announced(self) -> None:
        try:
            presence.restore_presence(
                self.redis, self.keys, process_id=self.process_id, counts=self.announced
            )
        except Exception:
            log.warning("presence rewrite failed", exc_info=True)
