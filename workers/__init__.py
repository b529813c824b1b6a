"""Dramatiq workers. `dramatiq workers` imports this package: broker first, then every actor."""

from workers.broker import broker

__all__ = ["broker"]
