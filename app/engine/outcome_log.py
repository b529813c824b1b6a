"""One log line per delivery outcome: sent, retried, given up, failed, skipped.

Each line reads on its own at a terminal and carries the same facts as fields, which JSON logs
show as keys: `event` (sent, retry, gave_up, failed, skipped), `channel`, `user_id`,
`notification_id`, `delivery_id`, and `reason`, `attempt`, `max_attempts`, `retry_in_ms` where
they apply.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.engine import outcome_metrics, states
from app.engine.ledger import ClaimedDelivery
from app.observability.metrics import FAILED, GAVE_UP, RETRYING

log = logging.getLogger("herald.delivery")


def sent(delivery: ClaimedDelivery) -> None:
    outcome_metrics.sent(delivery)
    _line("sent", _about(delivery), "sent", attempt=delivery.attempts)


def failed(delivery: ClaimedDelivery, *, reason: str) -> None:
    """A refusal that retrying cannot fix (a 5xx SMTP reply, a gone subscription)."""
    outcome_metrics.failed(delivery, outcome=FAILED, reason=reason)
    _line("failed", _about(delivery), "failed: %s", _flat(reason), reason=reason)


def retry(delivery: ClaimedDelivery, *, reason: str, max_attempts: int, retry_in_ms: int) -> None:
    outcome_metrics.failed(delivery, outcome=RETRYING, reason=reason)
    _line(
        "retry",
        _about(delivery),
        "attempt %d/%d failed, retry in %s: %s",
        delivery.attempts,
        max_attempts,
        _wait(retry_in_ms),
        _flat(reason),
        reason=reason,
        attempt=delivery.attempts,
        max_attempts=max_attempts,
        retry_in_ms=retry_in_ms,
    )


def gave_up(delivery: ClaimedDelivery, *, reason: str) -> None:
    outcome_metrics.failed(delivery, outcome=GAVE_UP, reason=reason)
    _line(
        "gave_up",
        _about(delivery),
        "gave up after %d attempts: %s",
        delivery.attempts,
        _flat(reason),
        reason=reason,
        attempt=delivery.attempts,
    )


def fanned_out(deliveries: Sequence[Mapping[str, Any]], *, accepted_at: datetime | None) -> None:
    """The outcomes decided at fan-out: in-app rows written, channels skipped (with the reason),
    recipients whose content could not be rendered. Queued ones are logged once sent."""
    outcome_metrics.fanned_out(deliveries, accepted_at=accepted_at)
    if not log.isEnabledFor(logging.INFO):
        return
    for row in deliveries:
        about = {key: row[key] for key in ("channel", "user_id", "notification_id")}
        about["delivery_id"] = row["id"]
        reason = row["reason"] or ""
        if row["status"] == states.SENT:
            _line("sent", about, "sent", attempt=row["attempts"])
        elif row["status"] == states.SKIPPED:
            _line("skipped", about, "skipped: %s", _flat(reason), reason=reason)
        elif row["status"] == states.FAILED:
            _line("failed", about, "failed: %s", _flat(reason), reason=reason)


def _about(delivery: ClaimedDelivery) -> dict[str, Any]:
    return {
        "channel": delivery.channel,
        "user_id": delivery.user_id,
        "notification_id": delivery.notification_id,
        "delivery_id": delivery.id,
    }


def _line(event: str, about: dict[str, Any], what: str, *args: Any, **fields: Any) -> None:
    """`email to user U: <what> (notification N)`, with every fact as a field too."""
    log.info(
        f"%s to user %s: {what} (notification %s)",
        about["channel"],
        about["user_id"],
        *args,
        about["notification_id"],
        extra={"event": event, **about, **fields},
    )


def _wait(ms: int) -> str:
    """`2.5s`, `4m05s`, `4h00m`: a wait as a person reads it."""
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _flat(reason: str) -> str:
    """A reason on one line (SMTP replies can span several)."""
    return " ".join(reason.split())
