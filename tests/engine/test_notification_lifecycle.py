"""The stored notification status reaches its final value whatever order its pieces finish in."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from app.engine import lifecycle
from app.engine.models import Delivery, Notification, NotificationChunk
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import realtime


def stored(runtime: Runtime, notification_id: str) -> str:
    with runtime.database.transaction() as session:
        return session.get(Notification, notification_id).status


def advance(runtime: Runtime, notification_id: str) -> None:
    with runtime.database.autocommit_connection() as connection:
        lifecycle.advance(connection, [notification_id])


def new_notification(runtime: Runtime, tenant: Tenant, status: str, *, chunks: int = 0) -> str:
    with runtime.database.transaction() as session:
        notification = Notification(
            app_id=tenant.app_id, kind="template", mode="batch", status=status, channels=["email"]
        )
        session.add(notification)
        session.flush()
        for position in range(chunks):
            session.add(
                NotificationChunk(notification_id=notification.id, position=position, targets=[])
            )
        return notification.id


def add_deliveries(runtime: Runtime, tenant: Tenant, notification_id: str, *statuses: str) -> None:
    with runtime.database.transaction() as session:
        for index, status in enumerate(statuses):
            session.add(
                Delivery(
                    app_id=tenant.app_id,
                    notification_id=notification_id,
                    channel="email",
                    target=f"u{index}",
                    status=status,
                )
            )


# Concurrent write transactions: SQLite runs one at a time, so this is PostgreSQL's case.
@pytest.mark.parametrize("engine_name", ["postgresql"])
def test_the_last_of_two_concurrent_chunks_to_commit_moves_the_notification_on(
    runtime: Runtime, tenant: Tenant
):
    notification_id = new_notification(runtime, tenant, "dispatching", chunks=2)
    add_deliveries(runtime, tenant, notification_id, "queued")  # the chunks' work, not sent yet
    with runtime.database.transaction() as session:
        first, second = session.scalars(
            NotificationChunk.__table__.select()
            .with_only_columns(NotificationChunk.id)
            .where(NotificationChunk.notification_id == notification_id)
        ).all()
    one, two = runtime.database.session(), runtime.database.session()
    try:
        for session, chunk_id in ((one, first), (two, second)):
            session.execute(
                update(NotificationChunk)
                .where(NotificationChunk.id == chunk_id)
                .values(status="done")
            )
        # Each sees the other's chunk still queued until it commits: checked in its own
        # transaction, neither would move the notification on.
        one.commit()
        advance(runtime, notification_id)
        assert stored(runtime, notification_id) == "dispatching"
        two.commit()
        advance(runtime, notification_id)
    finally:
        one.close()
        two.close()

    assert stored(runtime, notification_id) == "sending"


@pytest.mark.parametrize(
    ("outcomes", "final"),
    [
        (("sent", "sent", "skipped"), "completed"),
        (("sent", "failed", "cancelled"), "completed_with_errors"),
        (("sent", "sending"), "sending"),
        (("queued",), "sending"),
        (("sent", "retrying"), "sending"),  # a retry may wait for hours: still sending
    ],
)
def test_a_sending_notification_completes_once_no_delivery_is_pending(
    runtime: Runtime, tenant: Tenant, outcomes: tuple[str, ...], final: str
):
    notification_id = new_notification(runtime, tenant, "sending")
    add_deliveries(runtime, tenant, notification_id, *outcomes)

    advance(runtime, notification_id)

    assert stored(runtime, notification_id) == final


def test_a_cancelled_notification_stays_cancelled(runtime: Runtime, tenant: Tenant):
    notification_id = new_notification(runtime, tenant, "cancelled")
    add_deliveries(runtime, tenant, notification_id, "sent", "cancelled")

    advance(runtime, notification_id)

    assert stored(runtime, notification_id) == "cancelled"


def test_a_realtime_send_with_nothing_left_to_deliver_is_stored_completed(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    in_app_only = {"in_app": {"title": "Hello {{ customerName }}", "body": "{{ orderId }}"}}
    approved_template(client, tenant, key="in-app-only", channels=in_app_only)
    variables = {"customerName": "Jo", "orderId": "1"}

    answer = realtime(
        client, tenant, [{"external_id": "jo"}], key="in-app-only", variables=variables
    )

    assert answer["status"] == "completed"
    assert stored(runtime, answer["notificationId"]) == "completed"
