"""Sending rates and fair shares under test: a limiter on its own clock, batches fanned out as
a worker would, and the order in which recipients reached the SMTP sink."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from redis import Redis

from app.engine.throttle import SendingRates
from tests.support.sinks import SmtpSink

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


def positions(sink: SmtpSink, addresses: Iterable[str]) -> list[int]:
    """Where each of these recipients' emails came in the sink's order of arrival."""
    wanted = {a.lower() for a in addresses}
    return [i for i, recipient in enumerate(sink.recipients()) if recipient.lower() in wanted]
