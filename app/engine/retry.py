"""The one retry policy: which failures are worth another attempt, when, and how many times.

Channels classify what a provider answered with `smtp_verdict` / `http_verdict` and raise the
matching failure (`app.engine.channels.base`); sending asks `RetryPolicy.next_attempt` when to
try again, and whether the broker or the database holds the wait; the reconciler asks it which
waits the broker may still be holding. Dramatiq's own retries (`TASK_RETRIES`) are not about
providers: they re-run a task that failed unexpectedly, a database outage say, and every task is
safe to run twice.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from app.config import Settings
from app.orm import utcnow


class Verdict(StrEnum):
    TRANSIENT = "transient"  # might succeed later: retry on the schedule
    PERMANENT = "permanent"  # will not succeed by retrying: record and stop
    GONE = "gone"  # the destination no longer exists: record, stop and forget it


def smtp_verdict(code: int) -> Verdict:
    """SMTP replies: 4xx defer (greylisting, throttling, a full mailbox), 5xx refuse."""
    return Verdict.TRANSIENT if 400 <= code < 500 else Verdict.PERMANENT


# Enhanced status codes (RFC 3463, RFC 7505) saying the recipient's address does not exist or
# cannot take mail: bad mailbox, bad system, bad syntax, moved away, null MX. Not X.1.7 / X.1.8,
# which are about the sender's address, nor the ambiguous X.1.0 / X.1.4.
HARD_BOUNCE_STATUSES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10"})


def is_hard_bounce(code: int, enhanced: str | None) -> bool:
    """A permanent refusal (5xx, on RCPT or after DATA) because the address does not exist:
    the address goes on the app's suppression list."""
    return 500 <= code < 600 and enhanced in HARD_BOUNCE_STATUSES


def http_verdict(status: int) -> Verdict:
    """Push service replies (RFC 8030): 404/410 the subscription is gone, 429 and 5xx are
    overload or outage, any other refusal (400 bad payload, 403 bad VAPID, 413) stays one."""
    if status in (404, 410):
        return Verdict.GONE
    if status == 429 or status >= 500:
        return Verdict.TRANSIENT
    return Verdict.PERMANENT


def retry_after_s(header: str | None, *, now: datetime | None = None) -> float | None:
    """A `Retry-After` header's wait in seconds (delta-seconds or an HTTP date), None if absent
    or unreadable."""
    if not header:
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


JITTER = 0.2
# Re-runs of a task that raised unexpectedly (not a provider's refusal).
TASK_RETRIES = 3
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_schedule(raw: str) -> tuple[int, ...]:
    """`1m,5m,1h` as waits in milliseconds; a ValueError naming RETRY_SCHEDULE otherwise."""
    waits = []
    for item in raw.split(","):
        match = _DURATION.fullmatch(item.strip())
        wait_ms = round(float(match[1]) * _UNIT_MS[match[2]]) if match else 0
        if wait_ms <= 0:
            raise ValueError(
                f"RETRY_SCHEDULE: {item.strip()!r} is not a wait; give comma-separated "
                "durations, each a positive number with ms, s, m or h (1m,5m,15m,1h)."
            )
        waits.append(wait_ms)
    return tuple(waits)


@dataclass(frozen=True)
class NextAttempt:
    """When a delivery that failed for now is tried again. A wait the broker holds is a delayed
    message; any other is left to the reconciler, which enqueues it from the database once due."""

    wait_ms: int
    at: datetime
    through_broker: bool


@dataclass(frozen=True)
class RetryPolicy:
    """A delivery that failed for now waits `schedule_ms[n - 1]` after its n-th attempt (within
    ± `jitter`), so it has `len(schedule_ms) + 1` attempts in all. A provider's `Retry-After`
    lengthens a wait, up to the schedule's longest.

    Every wait is stored with the delivery (`next_attempt_at`), the truth whatever Redis loses.
    Waits up to `broker_wait_limit_ms` (the reconciler's interval) are also delayed messages, so
    that they need not wait for its next pass; longer ones are left to the reconciler, so that
    hours-long waits never sit in Redis. Without a reconciler (None), every wait is a message.
    """

    schedule_ms: tuple[int, ...]
    broker_wait_limit_ms: int | None = None
    jitter: float = JITTER

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """RETRY_SCHEDULE; the broker holds waits up to RECONCILE_INTERVAL_S (ValueError names a
        malformed schedule)."""
        schedule = parse_schedule(settings.retry_schedule)
        return cls(schedule, broker_wait_limit_ms=settings.reconcile_interval_s * 1_000 or None)

    @property
    def max_attempts(self) -> int:
        return len(self.schedule_ms) + 1

    @property
    def broker_wait_limit(self) -> timedelta | None:
        """The longest wait a delayed message may be holding (None: any)."""
        limit = self.broker_wait_limit_ms
        return None if limit is None else timedelta(milliseconds=limit)

    def next_attempt(
        self,
        attempts: int,
        *,
        retry_after: float | None = None,
        now: datetime | None = None,
        rng: random.Random | None = None,
    ) -> NextAttempt | None:
        """When to try again, `attempts` having been made; None when none is left."""
        if attempts >= self.max_attempts:
            return None
        step = self.schedule_ms[max(attempts, 1) - 1]
        wait = step * (rng or random).uniform(1 - self.jitter, 1 + self.jitter)
        if retry_after is not None:
            wait = max(wait, min(retry_after * 1_000, max(self.schedule_ms)))
        wait_ms = int(wait)
        limit = self.broker_wait_limit_ms
        return NextAttempt(
            wait_ms=wait_ms,
            at=(now or utcnow()) + timedelta(milliseconds=wait_ms),
            through_broker=limit is None or wait_ms <= limit,
        )
