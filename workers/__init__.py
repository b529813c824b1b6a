"""Dramatiq workers. `dramatiq workers` imports this package: broker first, then every actor."""

from workers.broker import broker
from workers import delivery  # noqa: E402  (actors register on the broker configured above)
from workers.reconciler import ReconcilerMiddleware

broker.add_middleware(ReconcilerMiddleware())

__all__ = ["broker", "delivery"]
