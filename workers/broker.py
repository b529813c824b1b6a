"""A process's Redis broker. Built by the composition root (`app.composition`), never at import:
actors are declared on it explicitly, so Dramatiq's global broker is never needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dramatiq.brokers.redis import RedisBroker

if TYPE_CHECKING:
    from app.config import Settings


def build_broker(settings: Settings) -> RedisBroker:
    """A broker whose keys live under the installation's Redis prefix; it connects when used."""
    return RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_prefix}dramatiq")
