"""Writes one web process's presence to Redis: in order, batched, from one thread.

Sockets come and go in bursts (a restart reconnects thousands at once). Each change is queued
here and one thread writes everything queued in one round trip, on one connection, so changes
never overtake each other and no socket waits behind a lock for its own round trip. What it
writes is each changed user's whole socket count, never an increment: a write that failed, or
whose reply was lost after Redis applied it, is simply written again, and the count stays true.
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
RETRY_AFTER_S = 1.0


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
    # This process's sockets per user, as attached and detached (what Redis should hold).
    counts: dict[Key, int] = field(default_factory=dict)
    # Users whose count Redis may not hold yet.
    _unwritten: set[Key] = field(default_factory=set)
    _queue: queue.Queue[_Change | Callable[[], None] | None] = field(default_factory=queue.Queue)

    def change(self, key: Key, delta: int, *, wait: bool) -> None:
        """Queue a change of a user's socket count; `wait` until Redis has it (or it failed)."""
        done = threading.Event() if wait else None
        self._queue.put(_Change(key, delta, done))
        if done is not None:
            done.wait(ANNOUNCE_TIMEOUT_S)

    def restore(self) -> None:
        """Queue a rewrite of every count (Redis restarted, or reaped this process)."""
        self._queue.put(lambda: self._unwritten.update(self.counts))

    def stop(self) -> None:
        self._queue.put(None)

    def run(self) -> None:
        """The writer loop: take what is queued, write it in one round trip, repeat."""
        while (batch := self._next_batch()) is not None:
            waiting = [item.done for item in batch if isinstance(item, _Change) and item.done]
            for item in batch:
                if isinstance(item, _Change):
                    self._apply(item)
                else:
                    item()
            self._flush()
            for done in waiting:
                done.set()

    def _apply(self, change: _Change) -> None:
        count = self.counts.get(change.key, 0) + change.delta
        if count > 0:
            self.counts[change.key] = count
        else:
            self.counts.pop(change.key, None)
        self._unwritten.add(change.key)

    def _next_batch(self) -> list[_Change | Callable[[], None]] | None:
        """What is queued; empty after a pause when a failed write is waiting to be retried."""
        try:
            first = self._queue.get(timeout=RETRY_AFTER_S if self._unwritten else None)
        except queue.Empty:
            return []
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
        if not self._unwritten:
            return
        counts = {key: self.counts.get(key, 0) for key in self._unwritten}
        try:
            presence.write_counts(self.redis, self.keys, process_id=self.process_id, counts=counts)
        except Exception:  # RedisError, or anything else: the writer thread must survive
            log.warning("presence update failed; retrying", exc_info=True)
            return
        self._unwritten.clear()
