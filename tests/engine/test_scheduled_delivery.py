"""Scheduled sends start from the database: delivered once they are due and not before, once
however many passes race for them, and whatever Redis loses after the claim."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from app.composition import compose
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import finished, people, schedule
from tests.support.sinks import SmtpSink, wait_until
from workers.actors import Actors
from workers.reconciler import Reconciled, reconcile_once
from workers.scheduler import Started, start_due_sends

IN_AN_HOUR = timedelta(hours=1)
# Nothing listens there: whatever a broker on it is given is lost.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"

LostThenReconciled = Callable[[list[dict], str], tuple[str, Started, Reconciled]]


@pytest.fixture(autouse=True)
def template(client: FlaskClient, tenant: Tenant) -> dict:
    """Every test sends the order template."""
    return approved_template(client, tenant)


@pytest.fixture
def lost_then_reconciled(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
) -> Iterator[LostThenReconciled]:
    """`lost_then_reconciled(targets, mode)`: a send scheduled an hour ahead, started once due by
    a pass whose broker cannot reach Redis (whatever it enqueues is lost), then a reconciler's
    pass, and waited for until finished: its id, and the two passes' results."""
    losing = compose(replace(runtime.settings, redis_url=UNREACHABLE_REDIS))

    def send(targets: list[dict], mode: str) -> tuple[str, Started, Reconciled]:
        send_at = datetime.now(UTC) + IN_AN_HOUR
        notification_id = schedule(client, tenant, send_at, targets, mode)
        started = start_due_sends(runtime, losing.actors, now=send_at)
        reconciled = reconcile_once(runtime, actors, stale_after=timedelta(0))
        finished(client, tenant, notification_id)
        return notification_id, started, reconciled

    yield send
    losing.close()


@pytest.mark.parametrize("mode", ["batch", "realtime"])
def test_a_send_scheduled_seconds_ahead_is_delivered_once_and_not_before_its_time(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker, mode: str
):
    send_at = datetime.now(UTC) + timedelta(seconds=3)
    due_on_this_clock = time.monotonic() + (send_at - datetime.now(UTC)).total_seconds()

    notification_id = schedule(client, tenant, send_at, people(1, prefix=mode), mode)
    finished(client, tenant, notification_id)

    [(recipient, arrived)] = smtp_sink.arrivals()
    assert recipient == f"{mode}0@example.com"
    assert arrived >= due_on_this_clock


def test_passes_racing_for_the_same_due_sends_start_each_exactly_once(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
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
    lost_then_reconciled: LostThenReconciled, smtp_sink: SmtpSink, worker
):
    notification_id, claimed, reconciled = lost_then_reconciled(people(3), "batch")

    assert claimed.batches == [notification_id]
    assert reconciled.notifications == 1
    assert sorted(smtp_sink.recipients()) == [f"u{i}@example.com" for i in range(3)]


def test_a_due_realtime_send_whose_deliveries_redis_lost_is_delivered_by_the_reconciler(
    lost_then_reconciled: LostThenReconciled, smtp_sink: SmtpSink, worker
):
    notification_id, started, reconciled = lost_then_reconciled(people(1), "realtime")

    assert started.fanned_out == [notification_id]
    assert reconciled.deliveries == 1  # the email; in-app was written with the fan-out
    assert wait_until(lambda: smtp_sink.recipients(), timeout=10) == ["u0@example.com"]
