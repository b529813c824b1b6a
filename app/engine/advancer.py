"""Moving notifications on in the background, for the delivery ledger and the chunk tasks.

Every committed batch of outcomes may have finished a notification, so each would have to run
`lifecycle.advance` after its commit: one more statement per batch, on the path of the threads
waiting for that commit (a fifth of a batch's throughput, measured). Here the ledger notes the
notifications and returns; one thread per process runs `advance` for everything noted, at most
every `interval_s`. Notes are taken after the outcomes committed, so the ordering argument of
`app.engine.lifecycle` holds: the pass that follows the last commit sees every outcome.
Should a pass fail, or the process die with notes pending, the reconciler's sweep moves those
notifications on later. A pass is one transaction, so that the `notification.completed` webhook
events of the notifications it completes commit with their status.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from app.db import Database
from app.engine import lifecycle
from app.webhooks.outbox import WebhookOutbox

log = logging.getLogger(__name__)

INTERVAL_S = 0.2


class Advancer:
    def __init__(
        self,
        database: Database,
        *,
        interval_s: float = INTERVAL_S,
        outbox: WebhookOutbox | None = None,
    ) -> None:
        self._database = database
        self._interval_s = interval_s
        self._outbox = outbox or WebhookOutbox()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._noted = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, notification_ids: Iterable[str]) -> None:
        """Have these notifications moved on soon (their outcomes are committed)."""
        with self._lock:
            self._pending.update(notification_ids)
            if not self._pending:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="herald-advancer", daemon=True
                )
                self._thread.start()
        self._noted.set()

    def flush(self) -> None:
        """Move on everything noted so far, in the calling thread."""
        with self._lock:
            ids, self._pending = self._pending, set()
        if not ids:
            return
        try:
            with self._database.connection_transaction() as connection:
                lifecycle.advance(connection, ids, outbox=self._outbox)
        except Exception:  # the outcomes are safe; the reconciler moves these on later
            log.warning("%d notification(s) not moved on", len(ids), exc_info=True)

    def _run(self) -> None:
        while True:
            self._noted.wait()
            self._noted.clear()
            time.sleep(self._interval_s)  # let more commits join this pass
            self.flush()
