"""The suppression list: adding, listing and removing addresses, and checking recipients against
it (one query for a whole chunk)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.pagination import fetch_page
from app.refusals import NotFound
from app.suppressions.models import Suppression
from app.webhooks.models import EventType
from app.webhooks.outbox import Event, outbox_of

NOT_FOUND = "ERR_SUPPRESSION_NOT_FOUND"


def canonical(email: str) -> str:
    """How the list stores and compares addresses: case does not matter."""
    return email.strip().lower()


def suppress(
    session: Session, *, app_id: str, emails: Sequence[str], reason: str
) -> list[Suppression]:
    """Add addresses to the app's list; one already there keeps its reason and date. Returns
    each given address's entry, in the order given. The app's webhooks are told of each
    address added (`suppression.added`)."""
    wanted = list(dict.fromkeys(canonical(email) for email in emails))
    if not wanted:
        return []
    outbox = outbox_of(session)
    reported = EventType.SUPPRESSION_ADDED in outbox.subscribed(session.connection(), app_id)
    listed = suppressed(session, app_id=app_id, emails=wanted) if reported else {}
    _insert_missing(session, app_id=app_id, emails=wanted, reason=reason)
    if reported:
        added = [
            Event(app_id, EventType.SUPPRESSION_ADDED, {"email": email, "reason": str(reason)})
            for email in wanted
            if email not in listed
        ]
        outbox.write(session.connection(), added)
    found = {
        entry.email: entry
        for entry in session.scalars(
            select(Suppression).where(Suppression.app_id == app_id, Suppression.email.in_(wanted))
        )
    }
    return [found[email] for email in wanted]


def suppressed(session: Session, *, app_id: str, emails: Sequence[str]) -> dict[str, str]:
    """Canonical address -> reason, for those of these addresses on the app's list."""
    wanted = sorted({canonical(email) for email in emails})
    if not wanted:
        return {}
    rows = session.execute(
        select(Suppression.email, Suppression.reason).where(
            Suppression.app_id == app_id, Suppression.email.in_(wanted)
        )
    )
    return {email: reason for email, reason in rows}


def list_suppressions(
    session: Session, *, app_id: str, reason: str | None, page: int, per_page: int
) -> tuple[list[Suppression], int]:
    """The app's list, newest first, optionally of one reason."""
    statement = select(Suppression).where(Suppression.app_id == app_id)
    if reason is not None:
        statement = statement.where(Suppression.reason == reason)
    ordered = statement.order_by(Suppression.created_at.desc(), Suppression.id)
    return fetch_page(session, ordered, page=page, per_page=per_page)


def remove_suppression(session: Session, *, app_id: str, email: str) -> None:
    """Take an address off the app's list: email may be sent to it again."""
    entry = session.scalar(
        select(Suppression).where(
            Suppression.app_id == app_id, Suppression.email == canonical(email)
        )
    )
    if entry is None:
        raise NotFound("No such address on the suppression list.", code=NOT_FOUND)
    session.delete(entry)
    session.flush()


def suppression_view(entry: Suppression) -> dict[str, Any]:
    """An entry as the Herald API shows it."""
    return {
        "email": entry.email,
        "reason": entry.reason,
        "createdAt": entry.created_at.isoformat().replace("+00:00", "Z"),
    }


def _insert_missing(session: Session, *, app_id: str, emails: list[str], reason: str) -> None:
    """One INSERT that skips addresses already listed, those a concurrent request just added
    included (both databases have ON CONFLICT DO NOTHING)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Suppression.__table__).on_conflict_do_nothing(
        index_elements=["app_id", "email"]
    )
    session.execute(statement, [{"app_id": app_id, "email": e, "reason": reason} for e in emails])
