"""`/api/suppressions`: the app's suppression list (addresses no email is sent to)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from app.auth import current_principal, server_call
from app.extensions import db_session
from app.families import HERALD_API, serving
from app.http import doc, load_body, page_from_query
from app.refusals import ErrorDetail, invalid
from app.suppressions import service
from app.suppressions.models import SuppressionReason
from app.suppressions.schemas import (
    REASONS,
    AddSuppressionsSchema,
    SuppressionListView,
    SuppressionsAddedView,
)
from app.wire import page_body

bp = serving(HERALD_API, Blueprint("suppressions", __name__, url_prefix="/api/suppressions"))


@bp.get("")
@server_call("manage_users")
@doc(response=SuppressionListView, tag="Suppressions", query=["reason", "page", "perPage"])
def list_suppressions() -> Any:
    """List the app's suppressed addresses, newest first, optionally of one `reason`."""
    page = page_from_query()
    entries, total = service.list_suppressions(
        db_session(),
        app_id=current_principal().app.id,
        reason=_reason_query(),
        page=page.number,
        per_page=page.per_page,
    )
    views = [service.suppression_view(entry) for entry in entries]
    return page_body("suppressions", views, total=total, page=page.number, per_page=page.per_page)


@bp.post("")
@server_call("manage_users")
@doc(body=AddSuppressionsSchema, response=SuppressionsAddedView, status=201, tag="Suppressions")
def add_suppressions() -> Any:
    """Stop email to these addresses (reason `manual`); listed ones keep their entry."""
    emails = load_body(AddSuppressionsSchema)["emails"]
    session = db_session()
    entries = service.suppress(
        session, app_id=current_principal().app.id, emails=emails, reason=SuppressionReason.MANUAL
    )
    views = [service.suppression_view(entry) for entry in entries]
    session.commit()
    return {"suppressions": views}, 201


@bp.delete("/<path:email>")
@server_call("manage_users")
@doc(status=204, tag="Suppressions", errors={404: (service.NOT_FOUND,)})
def remove_suppression(email: str) -> Any:
    """Take an address off the list: email may be sent to it again."""
    session = db_session()
    service.remove_suppression(session, app_id=current_principal().app.id, email=email)
    session.commit()
    return "", 204


def _reason_query() -> str | None:
    reason = request.args.get("reason") or None
    if reason is not None and reason not in REASONS:
        message = f"reason must be one of {', '.join(REASONS)}; got {reason}."
        raise invalid([ErrorDetail("ERR_BAD_REQUEST", message, "reason")])
    return reason
