"""The composition root: where a process builds its dependencies, once, from its settings.

Importing a Herald module builds nothing; the entry points call `compose` and pass what it
returns down. The web process: `app.create_app` (gunicorn's `app:create_app()`). A worker
process: the `dramatiq` command calls `worker_broker` (the Procfile's `worker`). The `herald`
command: each command composes its own (`app.cli.output.command_process`). Tests call `compose`
with their own settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from app.config import Settings
from app.logformat import format_existing_handlers
from app.observability.process_files import prepare_metrics_dir
from app.runtime import Runtime
from workers.actors import Actors
from workers.broker import build_broker
from workers.middleware import FlushOnStop, StopOnce, ThreadConnections
from workers.process_metrics import ProcessMetrics
from workers.reconciler import ReconcilerMiddleware
from workers.scheduler import SchedulerMiddleware
from workers.webhooks import WebhookPass


@dataclass(frozen=True)
class Process:
    """One process's dependencies: its runtime, its broker, and the actors declared on it."""

    runtime: Runtime
    broker: RedisBroker
    actors: Actors

    def close(self) -> None:
        self.broker.close()
        self.broker.client.connection_pool.disconnect()
        self.runtime.close()


def compose(settings: Settings) -> Process:
    """Build the runtime (database, Redis, encryptor, senders, commit listeners), the broker,
    the actors bound to both, and the worker middleware (the reconciler, the scheduled sends'
    pass, ...), which only a worker ever runs."""
    runtime = Runtime.from_settings(settings)
    broker = build_broker(settings)
    actors = Actors(broker, runtime)
    for middleware in (
        ReconcilerMiddleware(runtime, actors),
        SchedulerMiddleware(runtime, actors),
        ThreadConnections(runtime),
        StopOnce(),
        FlushOnStop(runtime),
        WebhookPass(actors.webhooks),
    ):
        broker.add_middleware(middleware)
    return Process(runtime, broker, actors)


def worker_broker() -> RedisBroker:
    """The `dramatiq` command's entry (`dramatiq app.composition:worker_broker`): this worker
    process's dependencies from the environment; Dramatiq reads the broker back with
    `get_broker()`, so it is set as the global broker here, before any worker starts."""
    settings = Settings.from_env()
    metrics_dir = prepare_metrics_dir(settings)  # before any metric is created
    format_existing_handlers(settings.log_level, json=settings.log_json)
    broker = compose(settings).broker
    broker.add_middleware(ProcessMetrics(metrics_dir, port=settings.worker_metrics_port))
    dramatiq.set_broker(broker)
    return broker
