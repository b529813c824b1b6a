"""Scheduled sends through the send API: `sendAt`, listing, cancelling and rescheduling them.

The worker's pass is run by the tests themselves (`start_due_sends` with the time it would run
at), so that a send due in an hour starts without waiting an hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.engine.models import Delivery, NotificationChunk
from app.inbox.models import InboxNotification
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template, make_key
from tests.support.pipeline import SEND, VARIABLES, people
from workers.actors import Actors
from workers.scheduler import start_due_sends

IN_AN_HOUR = timedelta(hours=1)
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.fixture
def template(client: FlaskClient, tenant: Tenant) -> dict:
    return approved_template(client, tenant)


def at(offset: timedelta) -> datetime:
    return datetime.now(UTC) + offset


def send(client: FlaskClient, tenant: Tenant, *, mode: str = "batch", **extra) -> TestResponse:
    request = {
        "template": {"key": "order-confirmation", "variables": VARIABLES},
        "targets": people(1 if mode == "realtime" else 2),
        "mode": mode,
        **extra,
    }
    return client.post(SEND, json=request, headers=tenant.headers())


def schedule(client: FlaskClient, tenant: Tenant, offset: timedelta = IN_AN_HOUR, **extra) -> dict:
    response = send(client, tenant, sendAt=at(offset).isoformat(), **extra)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def view(client: FlaskClient, tenant: Tenant, notification_id: str) -> dict:
    return client.get(f"/api/notifications/{notification_id}", headers=tenant.headers()).get_json()


def count(runtime: Runtime, model: type, notification_id: str) -> int:
    with runtime.database.transaction() as session:
        return session.scalar(
            select(func.count()).select_from(model).where(model.notification_id == notification_id)
        )


def test_a_send_with_sendAt_is_stored_scheduled_and_answered_202(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    send_at = at(IN_AN_HOUR).replace(microsecond=0)

    response = send(client, tenant, sendAt=send_at.astimezone(PLUS_TWO).isoformat())

    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert (body["status"], body["sendAt"], body["targets"]) == (
        "scheduled",
        send_at.isoformat().replace("+00:00", "Z"),
        2,
    )
    shown = view(client, tenant, body["notificationId"])
    assert (shown["status"], shown["sendAt"]) == ("scheduled", body["sendAt"])
    assert all(channel["total"] == 0 for channel in shown["progress"].values())
    assert count(runtime, NotificationChunk, body["notificationId"]) == 0


def test_a_realtime_send_with_sendAt_is_scheduled_too_and_fans_out_nothing_yet(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    response = send(client, tenant, mode="realtime", sendAt=at(IN_AN_HOUR).isoformat())

    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert (body["mode"], body["status"]) == ("realtime", "scheduled")
    assert count(runtime, Delivery, body["notificationId"]) == 0
    assert count(runtime, InboxNotification, body["notificationId"]) == 0


@pytest.mark.parametrize(
    ("send_at", "mentions"),
    [
        (lambda: at(-timedelta(minutes=2)).isoformat(), "in the past"),
        (lambda: at(timedelta(days=30, minutes=1)).isoformat(), "30 days"),
        (lambda: at(IN_AN_HOUR).replace(tzinfo=None).isoformat(), "UTC offset"),
        (lambda: "tomorrow at nine", "ISO 8601"),
        (lambda: 1_900_000_000, "ISO 8601"),
    ],
    ids=["past", "beyond-30-days", "no-offset", "not-a-time", "a-number"],
)
def test_a_sendAt_in_the_past_beyond_30_days_or_without_an_offset_is_refused(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime, send_at, mentions: str
):
    response = send(client, tenant, sendAt=send_at())

    assert response.status_code == 400, response.get_json()
    [error] = response.get_json()["errors"]
    assert (error["code"], error["field"]) == ("ERR_BAD_REQUEST", "sendAt")
    assert mentions in error["message"]
    listed = client.get("/api/notifications", headers=tenant.headers()).get_json()
    assert listed["total"] == 0


def test_a_sendAt_less_than_a_minute_past_sends_now_as_without_one(
    client: FlaskClient, tenant: Tenant, template: dict
):
    just_past = at(-timedelta(seconds=30)).isoformat()

    batch = send(client, tenant, sendAt=just_past)
    realtime = send(client, tenant, mode="realtime", sendAt=just_past)

    assert batch.status_code == 202, batch.get_json()
    assert (batch.get_json()["status"], batch.get_json()["sendAt"]) == ("queued", None)
    assert realtime.status_code == 200, realtime.get_json()
    assert realtime.get_json()["status"] != "scheduled"


def test_the_list_filtered_by_status_scheduled_shows_the_sends_still_pending(
    client: FlaskClient, tenant: Tenant, template: dict
):
    later = schedule(client, tenant)
    send(client, tenant)  # a batch sent now

    listed = client.get("/api/notifications?status=scheduled", headers=tenant.headers())

    assert listed.status_code == 200, listed.get_json()
    assert [n["notificationId"] for n in listed.get_json()["notifications"]] == [
        later["notificationId"]
    ]
    assert listed.get_json()["total"] == 1
    unknown = client.get("/api/notifications?status=someday", headers=tenant.headers())
    assert unknown.status_code == 400
    assert unknown.get_json()["errors"][0]["field"] == "status"


def test_a_scheduled_send_cancelled_before_it_is_due_never_starts(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime, actors: Actors
):
    scheduled = schedule(client, tenant)
    url = f"/api/notifications/{scheduled['notificationId']}"

    cancelled = client.post(f"{url}/cancel", headers=tenant.headers())
    started = start_due_sends(runtime, actors, now=at(2 * IN_AN_HOUR))

    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled"
    assert scheduled["notificationId"] not in started.batches
    assert view(client, tenant, scheduled["notificationId"])["status"] == "cancelled"
    assert count(runtime, NotificationChunk, scheduled["notificationId"]) == 0


def test_a_scheduled_send_is_started_by_the_workers_pass_once_due_and_only_once(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime, actors: Actors
):
    scheduled = schedule(client, tenant)

    early = start_due_sends(runtime, actors, now=at(IN_AN_HOUR - timedelta(minutes=1)))
    due = start_due_sends(runtime, actors, now=at(IN_AN_HOUR + timedelta(seconds=1)))
    again = start_due_sends(runtime, actors, now=at(IN_AN_HOUR + timedelta(seconds=2)))

    assert (early.batches, due.batches, again.batches) == ([], [scheduled["notificationId"]], [])
    assert view(client, tenant, scheduled["notificationId"])["status"] == "queued"


def test_patch_reschedules_a_send_that_has_not_started(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime, actors: Actors
):
    scheduled = schedule(client, tenant)
    url = f"/api/notifications/{scheduled['notificationId']}"
    new_time = at(3 * IN_AN_HOUR).replace(microsecond=0)

    response = client.patch(url, json={"sendAt": new_time.isoformat()}, headers=tenant.headers())
    at_the_old_time = start_due_sends(runtime, actors, now=at(2 * IN_AN_HOUR))
    at_the_new_time = start_due_sends(runtime, actors, now=new_time)

    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["status"], response.get_json()["sendAt"]) == (
        "scheduled",
        new_time.isoformat().replace("+00:00", "Z"),
    )
    assert at_the_old_time.batches == []
    assert at_the_new_time.batches == [scheduled["notificationId"]]


def test_patch_checks_sendAt_as_a_send_does(client: FlaskClient, tenant: Tenant, template: dict):
    url = f"/api/notifications/{schedule(client, tenant)['notificationId']}"

    past = client.patch(url, json={"sendAt": at(-IN_AN_HOUR).isoformat()}, headers=tenant.headers())
    missing = client.patch(url, json={}, headers=tenant.headers())
    naive = client.patch(url, json={"sendAt": "2030-01-01T09:00:00"}, headers=tenant.headers())

    for refused in (past, missing, naive):
        assert refused.status_code == 400, refused.get_json()
        assert refused.get_json()["errors"][0]["field"] == "sendAt"


def test_a_send_that_has_started_can_no_longer_be_rescheduled(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime, actors: Actors
):
    scheduled = schedule(client, tenant)
    url = f"/api/notifications/{scheduled['notificationId']}"
    start_due_sends(runtime, actors, now=at(2 * IN_AN_HOUR))
    sent_now = send(client, tenant).get_json()

    started = client.patch(
        url, json={"sendAt": at(IN_AN_HOUR).isoformat()}, headers=tenant.headers()
    )
    never_scheduled = client.patch(
        f"/api/notifications/{sent_now['notificationId']}",
        json={"sendAt": at(IN_AN_HOUR).isoformat()},
        headers=tenant.headers(),
    )

    for refused in (started, never_scheduled):
        assert refused.status_code == 409, refused.get_json()
        assert refused.get_json()["errors"][0]["code"] == "ERR_NOT_RESCHEDULABLE"
    assert view(client, tenant, scheduled["notificationId"])["sendAt"] == scheduled["sendAt"]


def test_a_scheduled_realtime_send_that_has_completed_can_be_neither_rescheduled_nor_cancelled(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime, actors: Actors
):
    in_app_only = ["no-address-user"]  # nothing left to send once its inbox row is written
    body = send(
        client, tenant, mode="realtime", targets=in_app_only, sendAt=at(IN_AN_HOUR).isoformat()
    ).get_json()
    url = f"/api/notifications/{body['notificationId']}"
    started = start_due_sends(runtime, actors, now=at(2 * IN_AN_HOUR))

    rescheduled = client.patch(
        url, json={"sendAt": at(IN_AN_HOUR).isoformat()}, headers=tenant.headers()
    )
    cancelled = client.post(f"{url}/cancel", headers=tenant.headers())

    assert started.fanned_out == [body["notificationId"]]
    assert view(client, tenant, body["notificationId"])["status"] == "completed"
    assert rescheduled.status_code == 409
    assert rescheduled.get_json()["errors"][0]["code"] == "ERR_NOT_RESCHEDULABLE"
    assert cancelled.status_code == 409
    assert cancelled.get_json()["errors"][0]["code"] == "ERR_NOT_CANCELLABLE"


def test_another_apps_scheduled_send_is_not_found_and_not_listed(
    client: FlaskClient, tenant: Tenant, other_tenant: Tenant, template: dict
):
    scheduled = schedule(client, tenant)
    url = f"/api/notifications/{scheduled['notificationId']}"
    later = {"sendAt": at(2 * IN_AN_HOUR).isoformat()}

    answers = [
        client.get(url, headers=other_tenant.headers()),
        client.patch(url, json=later, headers=other_tenant.headers()),
        client.post(f"{url}/cancel", headers=other_tenant.headers()),
    ]
    listed = client.get("/api/notifications?status=scheduled", headers=other_tenant.headers())

    assert [a.status_code for a in answers] == [404, 404, 404]
    assert {a.get_json()["errors"][0]["code"] for a in answers} == {"ERR_NOTIFICATION_NOT_FOUND"}
    assert listed.get_json()["total"] == 0
    assert view(client, tenant, scheduled["notificationId"])["status"] == "scheduled"


def test_rescheduling_needs_the_send_notifications_scope(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime
):
    url = f"/api/notifications/{schedule(client, tenant)['notificationId']}"
    reader = {"Authorization": f"Bearer {make_key(runtime, tenant, ['read'])}"}

    response = client.patch(url, json={"sendAt": at(IN_AN_HOUR).isoformat()}, headers=reader)

    assert response.status_code == 403
