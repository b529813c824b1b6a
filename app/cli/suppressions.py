"""`herald suppressions`: an app's suppression list, as `/api/suppressions` shows and changes it."""

from __future__ import annotations

import click
from marshmallow import ValidationError

from app.cli.output import emit, fail, transaction
from app.suppressions import service
from app.suppressions.models import SuppressionReason
from app.suppressions.schemas import REASONS
from app.tenants import service as tenants
from app.wire import normalized_email

# Entries read per query while listing the whole list.
PAGE_SIZE = 1000


@click.group()
def suppressions() -> None:
    """Addresses an app sends no email to: hard bounces, unsubscribes, manual entries."""


@suppressions.command("list")
@click.option("--app", "app_id", required=True)
@click.option("--reason", type=click.Choice(REASONS), default=None)
def suppressions_list(app_id: str, reason: str | None) -> None:
    """Every suppressed address of the app, newest first (optionally of one reason)."""
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        views, page = [], 1
        while True:
            entries, total = service.list_suppressions(
                session, app_id=app_id, reason=reason, page=page, per_page=PAGE_SIZE
            )
            views += [service.suppression_view(entry) for entry in entries]
            if len(views) >= total or not entries:
                break
            page += 1
        emit(views)


@suppressions.command("add")
@click.option("--app", "app_id", required=True)
@click.argument("emails", nargs=-1, required=True)
def suppressions_add(app_id: str, emails: tuple[str, ...]) -> None:
    """Stop email to these addresses (reason manual); listed ones keep their entry."""
    addresses = [_address(email, f"emails.{index}") for index, email in enumerate(emails)]
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        entries = service.suppress(
            session, app_id=app_id, emails=addresses, reason=SuppressionReason.MANUAL
        )
        emit([service.suppression_view(entry) for entry in entries])


@suppressions.command("remove")
@click.option("--app", "app_id", required=True)
@click.argument("email")
def suppressions_remove(app_id: str, email: str) -> None:
    """Take an address off the list: email may be sent to it again."""
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        service.remove_suppression(session, app_id=app_id, email=email)
        emit({"email": service.canonical(email), "removed": True})


def _address(email: str, field: str) -> str:
    try:
        return normalized_email(email)
    except ValidationError as exc:
        fail(str(exc), field=field)
