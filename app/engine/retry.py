"""The one retry policy: which failures are worth another attempt, when, and how many times.

Channels classify what a provider answered with `smtp_verdict` / `http_verdict` and raise the
matching failure (`app.engine.channels.base`); sending asks `RetryPolicy` when to try again;
the reconciler asks it how long a delivery may legitimately wait for its retry. Dramatiq's own
retries (`TASK_RETRIES`) are not about providers: they re-run a task that failed unexpectedly,
a database outage say, and every task is safe to run twice.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from app.config import Settings


class Verdict(StrEnum):
    TRANSIENT = "transient"  # might succeed later: retry with backoff
    PERMANENT = "permanent"  # will not succeed by retrying: record and stop
    GONE = "gone"  # the destination no longer exists: record, stop and forget it


def smtp_verdict(code: int) -> Verdict:
    """SMTP replies: 4xx defer (greylisting, throttling, a full mailbox), 5xx refuse."""
    return Verdict.TRANSIENT if 400 <= code < 500 else Verdict.PERMANENT


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


MAX_BACKOFF_MS = 5 * 60 * 1000
JITTER = 0.2
# Re-runs of a task that raised unexpectedly (not a provider's refusal).
TASK_RETRIES = 3


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: first delay, 2x, 4x, ... capped, for at most
    `max_attempts` attempts in all.

    A provider's `Retry-After` lengthens a wait, up to the longest wait of the schedule: the
    next attempt is scheduled only through the broker, so the reconciler must be able to tell
    a delivery waiting for its retry from one whose message was lost (`longest_wait_ms`).
    """

    first_delay_ms: int
    max_attempts: int
    cap_ms: int = MAX_BACKOFF_MS
    jitter: float = JITTER

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            first_delay_ms=settings.retry_backoff_ms, max_attempts=settings.max_delivery_attempts
        )

    def gives_up_after(self, attempts: int) -> bool:
        """No attempt is left once this many were made."""
        return attempts >= self.max_attempts

    def delay_ms(
        self, attempts: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> int:
        """How long to wait before the next attempt, `attempts` having been made."""
        backoff = self._backoff_ms(attempts) * (rng or random).uniform(
            1 - self.jitter, 1 + self.jitter
        )
        if retry_after is not None:
            backoff = max(backoff, min(retry_after * 1000, self._backoff_ms(self.max_attempts - 1)))
        return int(backoff)

    def longest_wait_ms(self) -> int:
        """The longest wait `delay_ms` can give before the last allowed attempt."""
        return int(self._backoff_ms(self.max_attempts - 1) * (1 + self.jitter))

    def _backoff_ms(self, attempts: int) -> int:
        return min(self.first_delay_ms * 2 ** max(attempts - 1, 0), self.cap_ms)
