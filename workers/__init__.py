"""Dramatiq workers. `dramatiq workers` imports this package: the broker and every actor."""

from workers import imports
from workers.broker import broker

__all__ = ["broker", "imports"]
