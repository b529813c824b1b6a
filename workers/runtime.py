"""The worker process's runtime (settings, database, Redis), built once from the environment."""

from __future__ import annotations

import threading

from app.config import Settings
from app.runtime import Runtime

_lock = threading.Lock()
_runtime: Runtime | None = None


def get_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = Runtime.from_settings(Settings.from_env())
        return _runtime


def use_runtime(runtime: Runtime | None) -> None:
    """Share an existing runtime (tests running workers in the same process as the API)."""
    global _runtime
    with _lock:
        _runtime = runtime
