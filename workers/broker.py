"""A process's Redis broker. Built by the composition root (`app.composition`), never at import:
actors are declared on it explicitly, so Dramatiq's global broker is never needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit

from workers.request_ids import RequestIdPropagation

if TYPE_CHECKING:
    from app.config import Settings


def build_broker(settings: Settings) -> RedisBroker:
    """A broker whose keys live under the installation's Redis prefix; it connects when used.
    Its messages carry the request id they were enqueued under (`workers.request_ids`)."""
    broker = RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_prefix}dramatiq")
    # First of all, so that Dramatiq's own lines about a message (retries, time limits) carry it.
    broker.add_middleware(RequestIdPropagation(), before=AgeLimit)
    return broker
