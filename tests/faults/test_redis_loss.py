"""Redis lost mid-batch and back empty, with the web and worker processes left running."""

from __future__ import annotations

import time

from tests.support.cluster import SETTINGS, Cluster, audience, batch_under_way, received, send_batch
from tests.support.fault_outcome import assert_consistent, outcome, report, wait_until_completed

OUTAGE_S = 4


def test_a_batch_completes_without_a_restart_after_redis_comes_back_empty(cluster: Cluster):
    recipients, notification_id = batch_under_way(cluster, "redis")

    cluster.redis.kill()
    time.sleep(OUTAGE_S)
    cluster.redis.restart_empty()
    back = time.monotonic()
    views = wait_until_completed(cluster, recipients.tenant, [notification_id])
    completed_after = time.monotonic() - back

    result = outcome(cluster, recipients, views)
    report(f"Redis killed for {OUTAGE_S} s, back empty", 1, result)
    assert_consistent(result, recipients)
    assert result.doubled == 0, result
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
