"""The one allow-list check, used by templated sends, direct sends and broadcasts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.allowlist.addresses import Address, ascii_domain_pattern, domain_matches, parse_address
from app.allowlist.models import AllowList
from app.tenants.models import App
from app.users.models import User
from app.users.targets import Target

INVALID_EMAIL = "invalid_email"
NOT_IN_ALLOW_LIST = "not_in_allow_list"


def get_allow_list(session: Session, *, app_id: str) -> AllowList:
    """The app's allow-list; an app that never set one has a disabled, empty list."""
    existing = session.get(AllowList, app_id)
    return existing or AllowList(
        app_id=app_id, enabled=False, domains=[], emails=[], allow_registered_users=False
    )


def replace_allow_list(session: Session, *, app_id: str, settings: dict[str, Any]) -> AllowList:
    """Replace the whole list (PUT semantics); domains and addresses are stored canonically."""
    allow_list = session.get(AllowList, app_id) or AllowList(app_id=app_id)
    allow_list.enabled = settings["enabled"]
    allow_list.allow_registered_users = settings["allow_registered_users"]
    allow_list.domains = sorted({ascii_domain_pattern(d) for d in settings["domains"]})
    allow_list.emails = sorted({_canonical(e) for e in settings["emails"]})
    session.add(allow_list)
    session.flush()
    return allow_list


class AllowListCheck:
    """Decides, for one send, which email addresses may be reached and why others may not."""

    def __init__(
        self, session: Session, *, app: App, caller_email: str | None, addresses: Sequence[str]
    ) -> None:
        self.allow_list = get_allow_list(session, app_id=app.id)
        self.caller = parse_address(caller_email) if caller_email else None
        self.registered = self._registered(session, app.id, addresses)

    def reason_to_reject(self, raw: str) -> str | None:
        """None when the address may be reached, else `invalid_email` / `not_in_allow_list`."""
        address = parse_address(raw)
        if address is None:
            return INVALID_EMAIL
        return None if self._allowed(address) else NOT_IN_ALLOW_LIST

    def _allowed(self, address: Address) -> bool:
        rules = self.allow_list
        if not rules.enabled:
            return True
        if self.caller is not None and address.canonical == self.caller.canonical:
            return True
        if rules.allow_registered_users and address.canonical in self.registered:
            return True
        if address.canonical in rules.emails:
            return True
        return any(domain_matches(address.ascii_domain, d) for d in rules.domains)

    def _registered(self, session: Session, app_id: str, addresses: Sequence[str]) -> set[str]:
        rules = self.allow_list
        if not (rules.enabled and rules.allow_registered_users and addresses):
            return set()
        emails = session.scalars(
            select(User.email).where(User.app_id == app_id, User.email.in_(list(addresses)))
        )
        return {a.canonical for e in emails if e and (a := parse_address(e))}


def screen_targets(
    session: Session, *, app: App, targets: Sequence[Target], caller_email: str | None = None
) -> tuple[list[Target], list[dict[str, str]]]:
    """Split a send's targets into accepted and rejected (`{"target", "reason"}`).

    Only targets that carry an email address are checked: a bare user id names a user, whom
    push and in-app reach by definition.
    """
    check = AllowListCheck(
        session,
        app=app,
        caller_email=caller_email,
        addresses=[t.email for t in targets if t.email],
    )
    accepted: list[Target] = []
    rejected: list[dict[str, str]] = []
    for target in targets:
        reason = check.reason_to_reject(target.email) if target.email else None
        if reason:
            rejected.append({"target": target.identity, "reason": reason})
        else:
            accepted.append(target)
    return accepted, rejected


def _canonical(raw: str) -> str:
    address = parse_address(raw)
    if address is None:
        raise ValueError(f"not a valid email address: {raw!r}")
    return address.canonical
