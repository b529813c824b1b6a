"""`send_at` on direct sends (ISO 8601, as that API's `queued_at`) and on broadcasts (Unix
seconds, as the inbox API's times): refused as each family refuses invalid input, stored
screened, and started by the worker's pass once due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.engine.models import Delivery, Notification
from app.runtime import Runtime
from app.users.models import User
from tests.support.factories import Tenant
from workers.actors import Actors
from workers.scheduler import start_due_sends

DIRECT = "/api/v1/notifications/send"
IN_AN_HOUR = timedelta(hours=1)


def at(offset: timedelta) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + offset


def direct(
    client: FlaskClient, tenant: Tenant, send_at: object, spelling: str = "send_at"
) -> tuple[int, dict]:
    body = {
        "channels": ["email", "in_app"],
        "to": ["ann@example.com", "bob@example.com"],
        "subject": "Maintenance tonight",
        "body": "The service is down from 22:00 to 23:00.",
        spelling: send_at,
    }
    response = client.post(DIRECT, json=body, headers=tenant.headers())
    return response.status_code, response.get_json()


def broadcast(client: FlaskClient, tenant: Tenant, send_at: object) -> tuple[int, dict]:
    fields = {"title": "Launch", "recipients": [{"external_id": "u1"}], "send_at": send_at}
    response = client.post("/broadcasts", json={"broadcast": fields}, headers=tenant.headers())
    return response.status_code, response.get_json()


def deliveries_of(runtime: Runtime, notification_id: str) -> list[tuple[str, str]]:
    with runtime.database.transaction() as session:
        rows = session.execute(
            select(Delivery.channel, Delivery.target).where(
                Delivery.notification_id == notification_id
            )
        )
        return sorted((channel, target) for channel, target in rows)


def test_a_scheduled_direct_send_is_screened_now_and_fanned_out_once_due(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    send_at = at(IN_AN_HOUR)

    status, body = direct(client, tenant, send_at.isoformat())
    notification_id = body["data"]["notification_id"]
    before = deliveries_of(runtime, notification_id)
    started = start_due_sends(runtime, actors, now=send_at)

    assert status == 202, body
    data = body["data"]
    assert (data["status"], data["send_at"]) == (
        "scheduled",
        send_at.isoformat().replace("+00:00", "Z"),
    )
    assert data["accepted_recipients"]["email"] == ["ann@example.com", "bob@example.com"]
    assert before == []
    assert started.fanned_out == [notification_id]
    assert [channel for channel, _ in deliveries_of(runtime, notification_id)] == [
        "email",
        "email",
        "in_app",
        "in_app",
    ]


def test_a_direct_send_without_send_at_answers_as_the_seed_shows(
    client: FlaskClient, tenant: Tenant
):
    status, body = direct(client, tenant, None)

    assert status == 202, body
    assert "send_at" not in body["data"] and "status" not in body["data"]


@pytest.mark.parametrize(
    "send_at",
    [at(-IN_AN_HOUR).isoformat(), at(timedelta(days=31)).isoformat(), "2030-01-01T09:00:00"],
    ids=["past", "beyond-30-days", "no-offset"],
)
@pytest.mark.parametrize("spelling", ["send_at", "sendAt"])
def test_a_direct_send_at_out_of_range_or_without_an_offset_is_400_and_stores_nothing(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, send_at: str, spelling: str
):
    """The refusal names the field as the request spelled it."""
    status, body = direct(client, tenant, send_at, spelling)

    assert status == 400, body
    [error] = body["errors"]
    assert (error["code"], error["field"]) == ("ERR_BAD_REQUEST", spelling)
    with runtime.database.transaction() as session:
        assert session.scalars(select(Notification.id)).all() == []
        assert session.scalars(select(User.id)).all() == []


def test_a_scheduled_broadcast_is_created_scheduled_with_its_send_at_in_unix_seconds(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    send_at = int(at(IN_AN_HOUR).timestamp())

    status, body = broadcast(client, tenant, send_at)
    broadcast_id = body["broadcast"]["id"]
    early = start_due_sends(runtime, actors, now=at(timedelta(minutes=59)))
    due = start_due_sends(runtime, actors, now=at(IN_AN_HOUR + timedelta(seconds=1)))
    shown = client.get(f"/broadcasts/{broadcast_id}", headers=tenant.headers()).get_json()

    assert status == 201, body
    assert body["broadcast"]["send_at"] == send_at
    assert body["broadcast"]["status"]["status"] == "scheduled"
    assert (early.batches, due.batches) == ([], [broadcast_id])
    assert shown["broadcast"]["status"]["status"] == "enqueued"
    assert shown["broadcast"]["send_at"] == send_at


@pytest.mark.parametrize(
    "send_at",
    [int(at(-IN_AN_HOUR).timestamp()), int(at(timedelta(days=31)).timestamp()), "soon"],
    ids=["past", "beyond-30-days", "not-a-time"],
)
def test_a_broadcast_send_at_out_of_range_is_refused_as_the_inbox_api_refuses_input(
    client: FlaskClient, tenant: Tenant, send_at: object
):
    status, body = broadcast(client, tenant, send_at)

    assert status == 422, body
    [error] = body["errors"]
    assert (error["code"], error["field"]) == ("ERR_VALIDATION", "broadcast.send_at")


def test_a_broadcast_sent_now_has_no_send_at_in_its_view(client: FlaskClient, tenant: Tenant):
    status, body = broadcast(client, tenant, None)

    assert status == 201, body
    assert "send_at" not in body["broadcast"]
    assert body["broadcast"]["status"]["status"] == "enqueued"


def test_a_direct_send_takes_the_send_apis_spelling_sendAt_too(client: FlaskClient, tenant: Tenant):
    send_at = at(IN_AN_HOUR)
    body = {
        "to": ["ann@example.com"],
        "subject": "Maintenance tonight",
        "body": "The service is down from 22:00 to 23:00.",
        "sendAt": send_at.isoformat(),
    }

    response = client.post(DIRECT, json=body, headers=tenant.headers())

    assert response.status_code == 202, response.get_json()
    assert response.get_json()["data"]["status"] == "scheduled"


def test_a_direct_send_naming_its_time_twice_is_refused(client: FlaskClient, tenant: Tenant):
    when = at(IN_AN_HOUR).isoformat()
    body = {"to": ["ann@example.com"], "subject": "S", "body": "B", "send_at": when, "sendAt": when}

    response = client.post(DIRECT, json=body, headers=tenant.headers())

    assert response.status_code == 400
    assert "sendAt" in {e.get("field") for e in response.get_json()["errors"]}
