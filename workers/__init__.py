"""Dramatiq workers. `dramatiq workers` imports this package: the broker and every actor."""

from workers import delivery, imports
from workers.broker import broker
from workers.middleware import FlushOnStop, StopOnce, ThreadConnections
from workers.reconciler import ReconcilerMiddleware

broker.add_middleware(ReconcilerMiddleware())
broker.add_middleware(ThreadConnections())
broker.add_middleware(StopOnce())
broker.add_middleware(FlushOnStop())

__all__ = ["broker", "delivery", "imports"]
