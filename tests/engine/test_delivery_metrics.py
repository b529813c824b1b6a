"""Every delivery outcome is counted for the operations metrics, as it is logged: by channel and
outcome, failures by their reason's class, and each sent delivery's time since its notification
was accepted. (In the test process the metrics stay in its memory; tests/processes reads them
from real processes.)"""

from __future__ import annotations

import time

import dramatiq
from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.metrics import increase
from tests.support.pipeline import batch, finished
from tests.support.sinks import SmtpSink, wait_until

PEOPLE = [
    {"external_id": "u0", "email": "u0@example.com"},
    {"external_id": "u1", "email": "u1@example.com"},
    {"external_id": "u2"},
]


def test_a_batchs_outcomes_are_counted_by_channel_and_its_failure_by_reason_class(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    worker: dramatiq.Worker,
):
    approved_template(client, tenant)
    smtp_sink.fail("u1@example.com", "550 5.1.1 No such user", times=5)
    outcomes = {
        (channel, outcome): increase("herald_deliveries_total", channel=channel, outcome=outcome)
        for channel, outcome in [
            ("email", "sent"),
            ("email", "failed"),
            ("email", "skipped"),
            ("in_app", "sent"),
            ("push", "skipped"),
        ]
    }
    refused = increase("herald_delivery_failures_total", channel="email", reason_class="smtp_5xx")
    timed = {
        channel: increase("herald_delivery_time_to_sent_seconds_count", channel=channel)
        for channel in ("email", "in_app")
    }

    waited = {
        channel: increase("herald_delivery_time_to_sent_seconds_sum", channel=channel)
        for channel in ("email", "in_app")
    }

    started = time.monotonic()
    sent = batch(client, tenant, PEOPLE)
    finished(client, tenant, sent["notificationId"])
    # Counted as logged: after the outcome commits, a moment after the notification finishes.
    wait_until(lambda: outcomes["email", "failed"]() == 1 and outcomes["email", "sent"]() == 1)
    elapsed = time.monotonic() - started

    assert {key: grown() for key, grown in outcomes.items()} == {
        ("email", "sent"): 1,
        ("email", "failed"): 1,
        ("email", "skipped"): 1,
        ("in_app", "sent"): 3,
        ("push", "skipped"): 3,
    }
    assert refused() == 1
    assert {channel: grown() for channel, grown in timed.items()} == {"email": 1, "in_app": 3}
    # Each sent delivery's wait since the notification was accepted, within the test's own time.
    assert 0 < waited["email"]() <= elapsed
    assert 0 <= waited["in_app"]() <= 3 * elapsed


def test_each_retry_and_the_give_up_are_counted_with_their_reason_class(
    client: FlaskClient,
    tenant: Tenant,
    runtime: Runtime,
    smtp_sink: SmtpSink,
    worker: dramatiq.Worker,
):
    approved_template(client, tenant)
    smtp_sink.fail("u0@example.com", "421 4.7.0 Busy", times=50)
    attempts = runtime.retry_policy.max_attempts
    outcomes = {
        outcome: increase("herald_deliveries_total", channel="email", outcome=outcome)
        for outcome in ("retrying", "gave_up", "sent", "failed")
    }
    deferred = increase("herald_delivery_failures_total", channel="email", reason_class="smtp_4xx")
    timed = increase("herald_delivery_time_to_sent_seconds_count", channel="email")

    sent = batch(client, tenant, PEOPLE[:1])
    finished(client, tenant, sent["notificationId"])
    wait_until(lambda: outcomes["gave_up"]() == 1)

    assert {outcome: grown() for outcome, grown in outcomes.items()} == {
        "retrying": attempts - 1,
        "gave_up": 1,
        "sent": 0,
        "failed": 0,
    }
    assert deferred() == attempts
    assert timed() == 0
