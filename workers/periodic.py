"""Passes each worker process runs in a thread of its own, from its boot to its shutdown: the
reconciler, the scheduler of due sends, the webhook pass."""

from __future__ import annotations

import logging
import threading

import dramatiq

log = logging.getLogger(__name__)


class PeriodicPass(dramatiq.Middleware):
    """Runs `run_once` every `interval_s` seconds (none when it is 0 or less), the first time at
    boot when `at_boot`. A pass that raises is logged and the next one tries again: the database
    or Redis being away must not stop a worker's passes for good."""

    name = "pass"
    at_boot = False

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def interval_s(self) -> float:
        raise NotImplementedError

    def run_once(self) -> None:
        raise NotImplementedError

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        interval = self.interval_s()
        if interval <= 0:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(interval, self._stop), name=f"herald-{self.name}", daemon=True
        )
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self, interval: float, stop: threading.Event) -> None:
        if not self.at_boot and stop.wait(interval):
            return
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.warning("%s pass failed; next in %s s", self.name, interval, exc_info=True)
            stop.wait(interval)
