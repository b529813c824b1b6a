"""Scheduled sends: how far ahead a send may be scheduled, and starting one once it is due.

A send given a time to start (`sendAt`, a broadcast's `send_at`) is checked and stored whole
when it is accepted, its template version pinned and its targets screened, and waits
`scheduled` in the database, never in Redis (`app.engine.lifecycle`). The worker's pass
(`workers.scheduler`) claims what is due: batches go to the dispatcher as any batch does;
realtime and direct sends, which are fanned out when they start, are fanned out here, in the
transaction that claims them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.engine import lifecycle, pipeline
from app.engine.fanout import FanOut
from app.engine.models import Notification
from app.orm import utcnow
from app.refusals import InvalidRequest
from app.suppressions.links import UnsubscribeLinks
from app.users.models import User
from app.users.targets import Target

# How far ahead a send may be scheduled.
HORIZON = timedelta(days=30)
# A time this little in the past is taken as "now" (a client's clock a little behind, or a
# request that took a moment to arrive); further in the past it is refused as a mistake.
GRACE = timedelta(minutes=1)
# Sends fanned out as they start, rather than split into chunks by the dispatcher.
FANNED_OUT_MODES = ("realtime", "direct")


def start_time(send_at: datetime | None, *, field: str) -> datetime | None:
    """When a send asked to start at `send_at` starts: None for now (no time given, or one
    less than GRACE ago), else `send_at`; refused beyond GRACE ago or HORIZON ahead."""
    if send_at is None:
        return None
    now = utcnow()
    if send_at < now - GRACE:
        raise InvalidRequest(
            f"{field} is in the past; give a time from now to {HORIZON.days} days ahead, or "
            "leave it out to send now.",
            field=field,
        )
    if send_at > now + HORIZON:
        raise InvalidRequest(f"{field} is more than {HORIZON.days} days ahead.", field=field)
    return send_at if send_at > now else None


def due_to_fan_out(session: Session, *, now: datetime, limit: int) -> list[str]:
    """Realtime and direct sends due by `now`, earliest first (to claim one by one)."""
    return list(
        session.scalars(
            select(Notification.id)
            .where(lifecycle.due(now), Notification.mode.in_(FANNED_OUT_MODES))
            .order_by(Notification.send_at)
            .limit(limit)
        )
    )


def start_fanned_out(
    session: Session, *, notification_id: str, now: datetime, links: UnsubscribeLinks
) -> tuple[Notification, FanOut] | None:
    """Claim a due realtime or direct send and fan it out as its request would have; None when
    another caller claimed it (or it was cancelled or rescheduled meanwhile)."""
    if not lifecycle.claim_due(session.connection(), notification_id, now=now):
        return None
    notification = session.get(Notification, notification_id, populate_existing=True)
    assert notification is not None  # just claimed
    if notification.kind == "direct":
        users = _users_by_channel(session, notification.targets)
        fanned = pipeline.deliver_per_channel(
            session, notification=notification, users=users, links=links
        )
    else:
        targets = [Target.from_json(raw) for raw in notification.targets]
        fanned = pipeline.deliver_to_targets(
            session, notification=notification, targets=targets, links=links
        )
    notification.targets = []  # its deliveries hold them now, as a realtime send keeps none
    lifecycle.advance_fanned_out(session, notification)
    return notification, fanned


def direct_recipients(users: dict[str, list[User]]) -> list[dict[str, Any]]:
    """A scheduled direct send's screened recipients as stored: each channel's user ids."""
    return [
        {"channel": channel, "user_ids": [u.id for u in found]} for channel, found in users.items()
    ]


def _users_by_channel(session: Session, stored: list[dict[str, Any]]) -> dict[str, list[User]]:
    """The users `direct_recipients` stored, per channel; those deleted since are left out."""
    ids = {user_id for entry in stored for user_id in entry["user_ids"]}
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return {
        entry["channel"]: [found[i] for i in entry["user_ids"] if i in found] for entry in stored
    }
