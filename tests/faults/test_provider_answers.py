"""What mail relays and push services answer, through the real processes: a deferral is retried
until delivered, a refusal fails once with its reason, a subscription that is gone is dropped."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import Cluster, audience, send_batch
from tests.support.fault_outcome import wait_until_completed
from tests.support.realtime import call, poll


def test_deferred_refused_and_gone_destinations_end_as_the_provider_said(cluster: Cluster):
    recipients = audience(cluster, "answers", 4)
    greylisted, refused, gone, busy = recipients.external_ids
    cluster.smtp.fail(recipients.email(greylisted), "451 4.7.1 Greylisted, try again", times=1)
    cluster.smtp.fail(recipients.email(refused), "550 5.1.1 No such user", times=1)
    cluster.push.reply(recipients.browsers[gone], 410)
    cluster.push.reply(recipients.browsers[busy], 503)

    status, sent = send_batch(cluster, recipients)
    assert status == 202, sent
    wait_until_completed(cluster, recipients.tenant, [sent["notificationId"]])
    deliveries = _deliveries(cluster, recipients.tenant, sent["notificationId"])

    def delivery(external_id: str, channel: str) -> dict[str, Any]:
        return deliveries[(external_id, channel)]

    assert delivery(greylisted, "email")["status"] == "sent"
    assert delivery(greylisted, "email")["attempts"] == 2
    assert cluster.smtp.attempts(recipients.email(greylisted)) == 2
    assert len(cluster.smtp.received_by(recipients.email(greylisted))) == 1

    assert delivery(refused, "email")["status"] == "failed"
    assert "550" in delivery(refused, "email")["reason"]
    assert cluster.smtp.attempts(recipients.email(refused)) == 1  # never retried

    assert delivery(gone, "push")["status"] == "failed"
    assert cluster.push.requests_to(recipients.browsers[gone]) == 1  # never retried
    subscriptions = _subscriptions(cluster, recipients.tenant.user_headers(gone))
    assert [s["discarded_at"] is not None for s in subscriptions] == [True]

    assert delivery(busy, "push")["status"] == "sent"
    assert cluster.push.requests_to(recipients.browsers[busy]) == 2
    assert len(recipients.browsers[busy].received) == 1


def _deliveries(cluster: Cluster, tenant: Any, notification_id: str) -> dict:
    def page() -> dict | None:
        status, body = cluster.api(
            "GET", f"/api/notifications/{notification_id}/deliveries?perPage=100", tenant
        )
        return body if status == 200 else None

    body = poll(page)
    return {(d["target"], d["channel"]): d for d in body["deliveries"]}


def _subscriptions(cluster: Cluster, user_headers: dict[str, str]) -> list[dict]:
    assert cluster.web is not None
    status, body = call(cluster.web.base_url, "GET", "/push_subscriptions", user_headers)
    assert status == 200, body
    return body["push_subscriptions"]
