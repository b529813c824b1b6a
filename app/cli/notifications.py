"""`herald notifications`: the app's notifications, and watching one deliver."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.live import Live

from app.cli.output import command_runtime, emit, emit_line, fail, transaction
from app.cli.progress import exit_status, follow, progress_table
from app.engine.models import Notification, NotificationStatus
from app.http import MAX_PAGE, MAX_PER_PAGE
from app.notifications import service
from app.runtime import Runtime
from app.tenants import service as tenants
from app.wire import page_body


@click.group()
def notifications() -> None:
    """Notifications sent: listing them, watching one deliver."""


@notifications.command("list")
@click.option("--app", "app_id", required=True)
@click.option("--page", "page", type=int, default=1, show_default=True)
@click.option("--per-page", "per_page", type=int, default=20, show_default=True)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice([s.value for s in NotificationStatus]),
    help="Only those with this status (repeatable): scheduled lists the sends still pending.",
)
def notifications_list(app_id: str, page: int, per_page: int, statuses: tuple[str, ...]) -> None:
    """The app's notifications, newest first, with status and progress (GET /api/notifications)."""
    if not 1 <= page <= MAX_PAGE:
        fail(f"--page must be an integer from 1 to {MAX_PAGE}.", field="page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        fail(f"--per-page must be an integer from 1 to {MAX_PER_PAGE}.", field="perPage")
    with transaction() as (_rt, session):
        tenants.get_tenant(session=session, app_id=app_id)
        rows, total = service.list_notifications(
            session, app_id=app_id, page=page, per_page=per_page, statuses=statuses
        )
        views = service.describe(session, rows)
        emit(page_body("notifications", views, total=total, page=page, per_page=per_page))


@notifications.command("watch")
@click.argument("notification_id")
@click.option("--app", "app_id", default=None, help="Its app (default: the one it belongs to).")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds per poll.")
@click.option("--timeout", type=float, default=None, help="Stop after this many seconds.")
def notifications_watch(
    notification_id: str, app_id: str | None, interval: float, timeout: float | None
) -> None:
    """Follow a notification until it completes: progress bars on a terminal, else one JSON
    progress object per poll, the last one the summary. Exit status: 0 completed, 3 completed
    with errors, 4 cancelled, 5 still going at --timeout, 1 refused (unknown notification)."""
    with command_runtime() as rt:

        def poll() -> dict[str, Any]:
            return _notification_view(rt, notification_id=notification_id, app_id=app_id)

        if sys.stdout.isatty():
            console = Console(force_terminal=True)
            with Live(console=console, auto_refresh=False) as live:
                summary = follow(
                    poll,
                    lambda r: live.update(progress_table(r), refresh=True),
                    interval=interval,
                    timeout=timeout,
                )
            emit(summary)
        else:
            summary = follow(poll, emit_line, interval=interval, timeout=timeout)
    sys.exit(exit_status(summary))


def _notification_view(rt: Runtime, *, notification_id: str, app_id: str | None) -> dict[str, Any]:
    """What GET /api/notifications/{id} answers, read by the same service functions."""
    with rt.database.transaction() as session:
        if app_id is None:  # the command line sees every app: the notification's own
            found = session.get(Notification, notification_id)
            app_id = found.app_id if found is not None else ""
        notification = service.get_notification(
            session, app_id=app_id, notification_id=notification_id
        )
        [view] = service.describe(session, [notification])
    return view
