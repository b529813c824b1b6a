"""What a faulted run ended with: at the sinks, in the ledger and through the API, and the one
line per run that docs/operations.md quotes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from app.engine.models import Delivery, Notification
from tests.support.cluster import Audience, Cluster, received
from tests.support.factories import Tenant
from tests.support.realtime import poll


def sending_now(cluster: Cluster, notification_ids: list[str]) -> int:
    """Deliveries the ledger shows in flight: at a kill -9, the ones that may go twice."""
    with cluster.runtime.database.transaction() as session:
        return session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.notification_id.in_(notification_ids), Delivery.status == "sending")
        )


def wait_until_completed(
    cluster: Cluster, tenant: Tenant, notification_ids: list[str], timeout: float = 90
) -> dict[str, dict[str, Any]]:
    """Until the API reports every notification completed (with errors or not) and the stored
    status says the same."""

    def views() -> dict[str, dict[str, Any]] | None:
        found = {}
        for notification_id in notification_ids:
            status, view = cluster.api("GET", f"/api/notifications/{notification_id}", tenant)
            if status != 200 or view["status"] not in ("completed", "completed_with_errors"):
                return None
            found[notification_id] = view
        stored = stored_statuses(cluster, notification_ids)
        return found if all(stored[i] == found[i]["status"] for i in found) else None

    return poll(views, timeout=timeout, interval=0.25)


def stored_statuses(cluster: Cluster, notification_ids: list[str]) -> dict[str, str]:
    """What `notifications.status` holds, which listing, filtering and metrics read."""
    with cluster.runtime.database.transaction() as session:
        rows = session.execute(
            select(Notification.id, Notification.status).where(
                Notification.id.in_(notification_ids)
            )
        )
        return {notification_id: status for notification_id, status in rows}


def ledger(cluster: Cluster, notification_ids: list[str]) -> Counter[tuple[str, str]]:
    """(channel, status) -> deliveries, over these notifications."""
    with cluster.runtime.database.transaction() as session:
        rows = session.execute(
            select(Delivery.channel, Delivery.status, func.count())
            .where(Delivery.notification_id.in_(notification_ids))
            .group_by(Delivery.channel, Delivery.status)
        )
        return Counter({(channel, status): count for channel, status, count in rows})


@dataclass(frozen=True)
class Outcome:
    """What the sinks, the ledger and the API say once a faulted run is over."""

    expected: int
    lost: int
    doubled: int
    ledger: Counter[tuple[str, str]]
    progress_sent: dict[str, int]


def outcome(
    cluster: Cluster,
    audience: Audience,
    views: dict[str, dict[str, Any]],
    sends_per_recipient: int = 1,
) -> Outcome:
    """Every recipient should have one email and one push per notification sent to them."""
    got = received(cluster, audience)
    expected_each = sends_per_recipient
    lost = doubled = 0
    for external_id in audience.browsers:
        for counts in (got.emails, got.pushes):
            n = counts[external_id]
            lost += max(expected_each - n, 0)
            doubled += max(n - expected_each, 0)
    progress_sent = {
        channel: sum(view["progress"][channel]["sent"] for view in views.values())
        for channel in ("email", "push", "in_app")
    }
    return Outcome(
        expected=2 * len(audience.browsers) * expected_each,
        lost=lost,
        doubled=doubled,
        ledger=ledger(cluster, list(views)),
        progress_sent=progress_sent,
    )


def assert_consistent(result: Outcome, audience: Audience, notifications: int = 1) -> None:
    """The ledger, the API's progress and the sinks agree: everything sent, once."""
    recipients = len(audience.browsers) * notifications
    assert result.lost == 0, result
    sent = {channel: result.ledger[(channel, "sent")] for channel in ("email", "push", "in_app")}
    assert sent == {"email": recipients, "push": recipients, "in_app": recipients}, result
    assert result.progress_sent == sent, result
    assert sum(result.ledger.values()) == 3 * recipients, result


def report(fault: str, injected: int, result: Outcome) -> None:
    """One line per faulted run (shown with `pytest -s`), the figures docs/operations.md quotes."""
    print(
        f"\nfault report | {fault} | faults injected: {injected} | deliveries checked at the "
        f"sinks: {result.expected} | lost: {result.lost} | doubled: {result.doubled}"
    )
