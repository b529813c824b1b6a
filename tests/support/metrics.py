"""Reading this test process's operations metrics (kept in its memory: tests/processes reads
them from real processes' shared files)."""

from __future__ import annotations

from collections.abc import Callable

from app.observability.metrics import metrics


def counted(name: str, **labels: str) -> float:
    """A sample's value now (0 before anything was counted under those labels)."""
    return metrics().registry.get_sample_value(name, labels) or 0.0


def increase(name: str, **labels: str) -> Callable[[], float]:
    """How much a sample has grown since this was called."""
    before = counted(name, **labels)
    return lambda: counted(name, **labels) - before
