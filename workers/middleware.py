"""Worker-thread housekeeping."""

from __future__ import annotations

import threading

import dramatiq

from app.notifications.sending import close_thread_connections


class ThreadConnections(dramatiq.Middleware):
    """Each worker thread keeps an SMTP connection open; close it when the thread stops."""

    def before_worker_thread_shutdown(
        self, broker: dramatiq.Broker, thread: threading.Thread
    ) -> None:
        close_thread_connections()
