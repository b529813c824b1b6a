"""The Redis broker, configured from the environment before any actor is declared."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from app.config import Settings


def build_broker(settings: Settings) -> RedisBroker:
    """A broker whose keys live under the installation's Redis prefix."""
    return RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_prefix}dramatiq")


broker = build_broker(Settings.from_env())
dramatiq.set_broker(broker)
