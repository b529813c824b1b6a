"""Redis lost mid-batch and back empty, with the web and worker processes left running."""

from __future__ import annotations

import time

import pytest

from tests.support.cluster import (
    SETTINGS,
    Audience,
    Cluster,
    audience,
    batch_under_way,
    received,
    send_batch,
)
from tests.support.fault_outcome import (
    Outcome,
    assert_consistent,
    outcome,
    report,
    wait_until_completed,
)
from tests.support.realtime import poll

OUTAGE_S = 4


def redis_lost_and_back_empty(cluster: Cluster) -> float:
    """Redis killed for OUTAGE_S, then restarted empty; when it came back (time.monotonic())."""
    cluster.redis.kill()
    time.sleep(OUTAGE_S)
    cluster.redis.restart_empty()
    return time.monotonic()


def assert_delivered_once(
    cluster: Cluster, recipients: Audience, notification_id: str, while_: str = ""
) -> Outcome:
    """Once the batch has completed: its outcome, reported as a run of Redis lost `while_`, and
    checked: every delivery made, none twice."""
    views = wait_until_completed(cluster, recipients.tenant, [notification_id])
    result = outcome(cluster, recipients, views)
    report(f"Redis killed for {OUTAGE_S} s, back empty{while_}", 1, result)
    assert_consistent(result, recipients)
    assert result.doubled == 0, result
    return result


def accepted_batch(cluster: Cluster, recipients: Audience) -> str:
    """A batch to the whole audience, accepted; its notification id."""
    status, sent = send_batch(cluster, recipients)
    assert status == 202, sent
    return sent["notificationId"]


def test_a_batch_completes_without_a_restart_after_redis_comes_back_empty(cluster: Cluster):
    recipients, notification_id = batch_under_way(cluster, "redis")

    back = redis_lost_and_back_empty(cluster)
    assert_delivered_once(cluster, recipients, notification_id)
    completed_after = time.monotonic() - back

    # The reconciler's interval and staleness bound, plus the time the rest takes to send.
    bound = int(SETTINGS["RECONCILE_INTERVAL_S"]) + int(SETTINGS["RECONCILE_STALE_AFTER_S"])
    assert completed_after < bound + 30


def test_sends_accepted_while_redis_is_down_are_answered_as_accepted_and_delivered_once(
    cluster: Cluster,
):
    recipients = audience(cluster, "outage", 40)
    first, second = recipients.external_ids[:20], recipients.external_ids[20:]
    cluster.redis.kill()

    status, during = send_batch(cluster, recipients, first, **{"Idempotency-Key": "outage-1"})
    assert status == 202, during  # committed: "retry later" would make the client send twice
    realtime_status, realtime = cluster.api(
        "POST",
        "/api/notifications/send",
        recipients.tenant,
        {
            "template": {"key": "order", "variables": {"customerName": "Al", "orderId": "R-1"}},
            "targets": recipients.targets(second[:1]),
            "mode": "realtime",
        },
    )
    assert realtime_status == 200, realtime
    cluster.redis.restart_empty()
    # The client retries the same send with its key after the outage: the same answer, no resend.
    status, replayed = send_batch(cluster, recipients, first, **{"Idempotency-Key": "outage-1"})
    assert status == 202, replayed
    assert replayed["notificationId"] == during["notificationId"]
    status, after = send_batch(cluster, recipients, second)
    assert status == 202, after

    ids = [during["notificationId"], realtime["notificationId"], after["notificationId"]]
    wait_until_completed(cluster, recipients.tenant, ids)
    got = received(cluster, recipients)
    expected = {e: 1 for e in recipients.external_ids}
    expected[second[0]] = 2  # the realtime send and the second batch
    assert dict(got.emails) == expected
    assert dict(got.pushes) == expected


# Longer than the reconciler's interval (1 s), so the waits are the database's alone; the jitter
# brings some of them due during the outage and some after it.
@pytest.mark.parametrize("cluster_settings", [{"RETRY_SCHEDULE": "6s"}], ids=["6s-waits"])
def test_deliveries_waiting_to_retry_are_all_delivered_after_redis_comes_back_empty(
    cluster: Cluster,
):
    recipients = audience(cluster, "waiting", 40)
    for external_id in recipients.external_ids:
        cluster.smtp.fail(recipients.email(external_id), "451 4.7.1 Greylisted, try again")
        cluster.push.reply(recipients.browsers[external_id], 503)
    notification_id = accepted_batch(cluster, recipients)

    def every_delivery_waiting() -> bool:
        status, view = cluster.api(
            "GET", f"/api/notifications/{notification_id}", recipients.tenant
        )
        counts = (
            [view["progress"][channel] for channel in ("email", "push")] if status == 200 else []
        )
        return bool(counts) and all((n["queued"], n["retrying"]) == (0, 40) for n in counts)

    poll(every_delivery_waiting, timeout=30, interval=0.1)
    redis_lost_and_back_empty(cluster)

    assert_delivered_once(
        cluster, recipients, notification_id, ", while 80 deliveries waited to retry"
    )
    emails = {cluster.smtp.attempts(recipients.email(e)) for e in recipients.external_ids}
    pushes = {cluster.push.requests_to(b) for b in recipients.browsers.values()}
    assert (emails, pushes) == ({2}, {2})  # refused once, delivered on the retry


# Eight seconds of email for the batch, most of it waiting for its turn when Redis goes.
@pytest.mark.parametrize("cluster_settings", [{"SMTP_MAX_PER_SECOND": "5"}], ids=["5-per-second"])
def test_emails_deferred_by_the_sending_rate_are_all_delivered_after_redis_comes_back_empty(
    cluster: Cluster,
):
    recipients = audience(cluster, "deferred", 40)
    notification_id = accepted_batch(cluster, recipients)

    def emails_waiting_for_their_turn() -> int:
        status, view = cluster.api(
            "GET", f"/api/notifications/{notification_id}", recipients.tenant
        )
        sent_already = sum(received(cluster, recipients).emails.values())
        return view["progress"]["email"]["queued"] if status == 200 and sent_already else 0

    waiting = poll(emails_waiting_for_their_turn, timeout=30, interval=0.1)
    redis_lost_and_back_empty(cluster)

    assert_delivered_once(
        cluster, recipients, notification_id, ", while emails waited for their turn"
    )
    assert waiting >= 20
    # Waiting for a turn is no attempt: every address was offered its email once.
    assert {cluster.smtp.attempts(recipients.email(e)) for e in recipients.external_ids} == {1}
