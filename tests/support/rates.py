"""Sending rates and fair shares under test: a limiter on its own clock, batches fanned out as
a worker would, and the order in which recipients reached the SMTP sink."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from redis import Redis
from sqlalchemy import select

from app.engine.models import Delivery, NotificationChunk
from app.engine.throttle import SendingRates
from app.runtime import Runtime
from tests.support.sinks import SmtpSink
from workers.actors import Actors

START_US = 1_700_000_000_000_000


class PinnedClock:
    """Microseconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now_us = START_US

    def __call__(self) -> int:
        return self.now_us

    def advance(self, *, ms: float) -> None:
        self.now_us += round(ms * 1000)


def sending_rates(
    redis: Redis, prefix: str, relay_per_second: int | None, clock: PinnedClock | None = None
) -> SendingRates:
    """Limits of the test's own (under a fresh Redis prefix), on Redis's clock or a pinned one."""
    return SendingRates(
        redis,
        prefix=f"{prefix}{uuid.uuid4().hex[:8]}:",
        relay_per_second=relay_per_second,
        clock_us=clock,
    )


def people(count: int, prefix: str = "u") -> list[dict]:
    return [
        {"external_id": f"{prefix}{i}", "email": f"{prefix}{i}@example.com"} for i in range(count)
    ]


def fan_out_now(runtime: Runtime, actors: Actors, notification_id: str) -> list[str]:
    """Dispatch and fan out every chunk as a worker would, leaving the sends queued; the email
    delivery ids, in the order of the targets."""
    actors.delivery.dispatch_notification(notification_id)
    with runtime.database.transaction() as session:
        chunk_ids = session.scalars(
            select(NotificationChunk.id).where(NotificationChunk.notification_id == notification_id)
        ).all()
    for chunk_id in chunk_ids:
        actors.delivery.process_chunk(chunk_id)
    with runtime.database.transaction() as session:
        return list(
            session.scalars(
                select(Delivery.id)
                .where(Delivery.notification_id == notification_id, Delivery.channel == "email")
                .order_by(Delivery.created_at, Delivery.id)
            )
        )


def positions(sink: SmtpSink, addresses: Iterable[str]) -> list[int]:
    """Where each of these recipients' emails came in the sink's order of arrival."""
    wanted = {a.lower() for a in addresses}
    return [i for i, recipient in enumerate(sink.recipients()) if recipient.lower() in wanted]
