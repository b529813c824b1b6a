"""Scheduled sends start from the database: delivered once they are due and not before, once
however many passes race for them, and whatever Redis loses after the claim."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from app.composition import compose
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import SEND, VARIABLES, finished, people
from tests.support.sinks import SmtpSink, wait_until
from workers.actors import Actors
from workers.reconciler import reconcile_once
from workers.scheduler import start_due_sends

IN_AN_HOUR = timedelta(hours=1)
# Nothing listens there: whatever a broker on it is given is lost.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def template(client: FlaskClient, tenant: Tenant) -> dict:
    return approved_template(client, tenant)


@pytest.fixture
def actors_losing_messages(runtime: Runtime) -> Iterator[Actors]:
    """Actors on the test's database whose broker cannot reach Redis."""
    process = compose(replace(runtime.settings, redis_url=UNREACHABLE_REDIS))
    yield process.actors
    process.close()


def schedule(
    client: FlaskClient, tenant: Tenant, send_at: datetime, targets: list, mode: str = "batch"
) -> str:
    request = {
        "template": {"key": "order-confirmation", "variables": VARIABLES},
        "targets": targets,
        "mode": mode,
        "sendAt": send_at.isoformat(),
    }
    response = client.post(SEND, json=request, headers=tenant.headers())
    assert response.status_code == 202, response.get_json()
    return response.get_json()["notificationId"]


@pytest.mark.parametrize("mode", ["batch", "realtime"])
def test_a_send_scheduled_seconds_ahead_is_delivered_once_and_not_before_its_time(
    client: FlaskClient, tenant: Tenant, template: dict, smtp_sink: SmtpSink, worker, mode: str
):
    send_at = datetime.now(UTC) + timedelta(seconds=3)
    due_on_this_clock = time.monotonic() + (send_at - datetime.now(UTC)).total_seconds()

    notification_id = schedule(client, tenant, send_at, people(1, prefix=mode), mode)
    finished(client, tenant, notification_id)

    [(recipient, arrived)] = smtp_sink.arrivals()
    assert recipient == f"{mode}0@example.com"
    assert arrived >= due_on_this_clock


def test_passes_racing_for_the_same_due_sends_start_each_exactly_once(
    client: FlaskClient, tenant: Tenant, template: dict, runtime: Runtime, actors: Actors
):
    send_at = datetime.now(UTC) + IN_AN_HOUR
    batches = [schedule(client, tenant, send_at, people(2, prefix=f"b{i}-")) for i in range(6)]
    realtime = [
        schedule(client, tenant, send_at, people(1, prefix=f"r{i}-"), "realtime") for i in range(6)
    ]

    with ThreadPoolExecutor(max_workers=4) as pool:
        passes = list(pool.map(lambda _: start_due_sends(runtime, actors, now=send_at), range(4)))

    started = Counter(i for p in passes for i in [*p.batches, *p.fanned_out])
    assert started == Counter(batches + realtime)


def test_a_due_batch_whose_message_redis_lost_is_dispatched_by_the_reconciler(
    client: FlaskClient,
    tenant: Tenant,
    template: dict,
    runtime: Runtime,
    actors: Actors,
    actors_losing_messages: Actors,
    smtp_sink: SmtpSink,
    worker,
):
    send_at = datetime.now(UTC) + IN_AN_HOUR
    notification_id = schedule(client, tenant, send_at, people(3))

    claimed = start_due_sends(runtime, actors_losing_messages, now=send_at)
    reconciled = reconcile_once(runtime, actors, stale_after=timedelta(0))
    finished(client, tenant, notification_id)

    assert claimed.batches == [notification_id]
    assert reconciled.notifications == 1
    assert sorted(smtp_sink.recipients()) == [f"u{i}@example.com" for i in range(3)]


def test_a_due_realtime_send_whose_deliveries_redis_lost_is_delivered_by_the_reconciler(
    client: FlaskClient,
    tenant: Tenant,
    template: dict,
    runtime: Runtime,
    actors: Actors,
    actors_losing_messages: Actors,
    smtp_sink: SmtpSink,
    worker,
):
    send_at = datetime.now(UTC) + IN_AN_HOUR
    notification_id = schedule(client, tenant, send_at, people(1), "realtime")

    started = start_due_sends(runtime, actors_losing_messages, now=send_at)
    reconciled = reconcile_once(runtime, actors, stale_after=timedelta(0))
    finished(client, tenant, notification_id)

    assert started.fanned_out == [notification_id]
    assert reconciled.deliveries == 1  # the email; in-app was written with the fan-out
    assert wait_until(lambda: smtp_sink.recipients(), timeout=10) == ["u0@example.com"]
