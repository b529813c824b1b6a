"""Delivery outcomes counted for the operations metrics (`app.observability`): each outcome's log
line (`app.engine.outcome_log`) counts it here too, so that the two always agree.

Counting writes to memory (or to this process's own file, in multiprocess mode): no lock shared
between processes, no network call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.engine import states
from app.engine.reason_classes import reason_class
from app.observability.metrics import FAILED, SENT, SKIPPED, metrics
from app.orm import utcnow

if TYPE_CHECKING:
    from app.engine.ledger import ClaimedDelivery

# Outcomes decided at fan-out, by the status the delivery is born in.
_BORN = {states.SENT: SENT, states.SKIPPED: SKIPPED, states.FAILED: FAILED}


def sent(delivery: ClaimedDelivery) -> None:
    channel = delivery.channel
    metrics().deliveries.labels(channel, SENT).inc()
    if delivery.accepted_at is not None:
        _time_to_sent(channel, delivery.accepted_at, count=1)


def failed(delivery: ClaimedDelivery, *, outcome: str, reason: str) -> None:
    """An attempt that failed: for good (failed, gave_up) or for now (retrying)."""
    metrics().deliveries.labels(delivery.channel, outcome).inc()
    metrics().delivery_failures.labels(delivery.channel, reason_class(reason)).inc()


def fanned_out(rows: Iterable[Mapping[str, Any]], *, accepted_at: datetime | None) -> None:
    """The outcomes a fan-out decided (in-app sent, skipped, failed to render), counted once per
    channel and outcome rather than per row; queued rows are counted once they are sent."""
    outcomes: Counter[tuple[str, str]] = Counter()
    failures: Counter[tuple[str, str]] = Counter()
    for row in rows:
        outcome = _BORN.get(row["status"])
        if outcome is None:
            continue
        outcomes[row["channel"], outcome] += 1
        if outcome == FAILED:
            failures[row["channel"], reason_class(row["reason"])] += 1
    for (channel, outcome), count in outcomes.items():
        metrics().deliveries.labels(channel, outcome).inc(count)
        if outcome == SENT and accepted_at is not None:
            _time_to_sent(channel, accepted_at, count=count)
    for (channel, klass), count in failures.items():
        metrics().delivery_failures.labels(channel, klass).inc(count)


def _time_to_sent(channel: str, accepted_at: datetime, *, count: int) -> None:
    seconds = max((utcnow() - accepted_at).total_seconds(), 0.0)
    histogram = metrics().time_to_sent.labels(channel)
    for _ in range(count):  # rows sent together took the same time
        histogram.observe(seconds)
