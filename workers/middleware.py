"""Worker-process housekeeping: per-thread connections, and one stop however often signalled."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

import dramatiq

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger(__name__)


class ThreadConnections(dramatiq.Middleware):
    """Each worker thread keeps an SMTP connection open; close it when the thread stops."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def before_worker_thread_shutdown(
        self, broker: dramatiq.Broker, thread: threading.Thread
    ) -> None:
        self.runtime.senders.close_thread_connections()


class StopOnce(dramatiq.Middleware):
    """A worker process drains on its first SIGTERM and ignores the ones that follow.

    Procfile platforms, honcho and systemd stop a service by signalling its whole process
    group, so each worker process gets SIGTERM twice: from the platform and forwarded by the
    `dramatiq` parent. Dramatiq takes a second SIGTERM as "kill now", which would abandon the
    sends in flight (and send them again after the reconciler requeues them). The hard stop
    is SIGKILL, which the platform sends when its grace period is over.
    """

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # not a `dramatiq` worker process (tests run workers in their own process)
        drain = signal.getsignal(signal.SIGTERM)
        if not callable(drain):
            return
        stopping = False

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            if stopping:
                log.info("already draining; repeated SIGTERM ignored")
                return
            stopping = True
            drain(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)


class FlushOnStop(dramatiq.Middleware):
    """A stopping worker moves on the notifications it noted in its last moments, rather than
    leaving them to the reconciler's sweep."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if "advancer" in vars(self.runtime):  # this process has noted notifications
            self.runtime.advancer.flush()
