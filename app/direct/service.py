"""Screening a direct send's recipients per channel, then fanning it out on the pipeline, now
or, scheduled, when it is due (`app.engine.schedule`)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.allowlist.addresses import parse_address
from app.allowlist.service import AllowListCheck
from app.engine import lifecycle, pipeline, schedule
from app.engine.fanout import FanOut
from app.engine.models import Notification, NotificationStatus
from app.refusals import ErrorDetail, Unprocessable
from app.suppressions.links import UnsubscribeLinks
from app.tenants.models import App
from app.users.models import User
from app.users.service import match_names
from app.users.targets import Target, resolve_users

MAX_RECIPIENTS_PER_CHANNEL = 50


@dataclass
class Screening:
    """Per channel: accepted recipients (as given), their users, and rejections with reasons."""

    accepted: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, list[User]] = field(default_factory=dict)
    rejected: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    rejected_at: list[tuple[int, str, str]] = field(default_factory=list)

    def reject(self, channel: str, position: int, recipient: str, reason: str) -> None:
        self.rejected[channel].append({"recipient": recipient, "reason": reason})
        self.rejected_at.append((position, recipient, reason))


def accept_direct_send(
    session: Session,
    *,
    app: App,
    created_by: str | None,
    caller_email: str | None,
    request: dict[str, Any],
    links: UnsubscribeLinks,
) -> tuple[Notification, FanOut, Screening]:
    """Screen every recipient, refuse (422) if nobody passes, else store and fan out (the
    emails carrying `links`), unless it is scheduled: then its recipients are stored."""
    spelling = "sendAt" if "sendAt" in request else "send_at"  # a refusal names the one given
    send_at = schedule.start_time(request.get(spelling), field=spelling)
    channels = list(dict.fromkeys(request["channels"]))
    screening = _screen(
        session, app=app, caller_email=caller_email, channels=channels, to=request["to"]
    )
    if not any(screening.accepted.values()):
        raise Unprocessable(
            details=[
                ErrorDetail(reason, f"{recipient}: {reason.replace('_', ' ')}", f"to.{position}")
                for position, recipient, reason in screening.rejected_at
            ]
        )
    notification = Notification(
        app_id=app.id,
        kind="direct",
        mode="direct",
        status=NotificationStatus.SCHEDULED if send_at else NotificationStatus.SENDING,
        send_at=send_at,
        channels=channels,
        title=request["subject"],
        content=_literal_content(request),
        targets=schedule.direct_recipients(screening.users) if send_at else [],
        target_count=sum(len(v) for v in screening.accepted.values()),
        rejected=[
            {"target": r["recipient"], "reason": r["reason"], "channel": channel}
            for channel, rejections in screening.rejected.items()
            for r in rejections
        ],
        created_by=created_by,
    )
    session.add(notification)
    session.flush()
    if send_at:
        return notification, FanOut(), screening
    fanned = pipeline.deliver_per_channel(
        session, notification=notification, users=screening.users, links=links
    )
    lifecycle.advance_fanned_out(session, notification)
    return notification, fanned, screening


def _screen(
    session: Session, *, app: App, caller_email: str | None, channels: list[str], to: list[str]
) -> Screening:
    screening = Screening()
    positions = _first_positions(to)
    for channel in channels:
        screening.accepted[channel], screening.rejected[channel] = [], []
        within = positions[:MAX_RECIPIENTS_PER_CHANNEL]
        for position, recipient in positions[MAX_RECIPIENTS_PER_CHANNEL:]:
            screening.reject(channel, position, recipient, "max_recipients_exceeded")
        if channel == "email":
            _screen_addresses(session, screening, app, caller_email, within)
        else:
            _screen_users(session, screening, app, channel, within)
    return screening


def _screen_addresses(
    session: Session,
    screening: Screening,
    app: App,
    caller_email: str | None,
    within: Sequence[tuple[int, str]],
) -> None:
    check = AllowListCheck(
        session, app=app, caller_email=caller_email, addresses=[r for _, r in within]
    )
    passed = []
    for position, recipient in within:
        reason = check.reason_to_reject(recipient)
        if reason:
            screening.reject("email", position, recipient, reason)
        else:
            passed.append(recipient)
    screening.accepted["email"] = passed
    screening.users["email"] = resolve_users(
        session, app_id=app.id, targets=[Target(email=parse_address(r).normalized) for r in passed]
    )


def _screen_users(
    session: Session,
    screening: Screening,
    app: App,
    channel: str,
    within: Sequence[tuple[int, str]],
) -> None:
    names = [r for _, r in within]
    found = (
        session.scalars(
            select(User).where(
                User.app_id == app.id, or_(User.external_id.in_(names), User.email.in_(names))
            )
        ).all()
        if names
        else []
    )
    by_name = match_names(names, found)
    users = []
    for position, recipient in within:
        user = by_name.get(recipient)
        if user is None:
            screening.reject(channel, position, recipient, "unknown_recipient")
        else:
            screening.accepted[channel].append(recipient)
            users.append(user)
    screening.users[channel] = list({u.id: u for u in users}.values())


def _first_positions(to: list[str]) -> list[tuple[int, str]]:
    """(position in the request, recipient) for each first occurrence, in request order."""
    seen: set[str] = set()
    kept = []
    for position, recipient in enumerate(to):
        address = parse_address(recipient)
        key = address.canonical if address else recipient
        if key not in seen:
            seen.add(key)
            kept.append((position, recipient))
    return kept


def _literal_content(request: dict[str, Any]) -> dict[str, Any]:
    subject, body = request["subject"], request["body"]
    body_html = request.get("body_html") or "<p>" + html.escape(body).replace("\n", "<br>") + "</p>"
    return {
        "in_app": {"title": subject[:255], "body": body},
        "email": {"subject": subject, "text": body, "html": body_html},
        "push": {"title": subject, "body": body},
    }
