"""The delivery ledger: claims and outcomes of many worker threads share transactions, and each
delivery is still claimed by exactly one of them. Both engines, real threads. What it does when
a commit fails or the database goes away is specified in test_delivery_ledger_failures.py."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.engine import states
from app.engine.ledger import DeliveryLedger
from app.orm import utcnow
from app.push.models import PushSubscription
from app.runtime import Runtime
from app.webhooks.outbox import WebhookOutbox
from tests.support.factories import Tenant
from tests.support.ledger import holding_the_first_call, in_background, queued_deliveries, stored
from tests.support.recipients import FCM_ENDPOINT, WEB_KEYS, counting_statements, make_user
from tests.support.sinks import wait_until
from tests.support.webhooks import create_webhook, pending_events

NOWHERE = "http://127.0.0.1:9/hooks"  # the events wait in the outbox: no worker runs here


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(work, range(count)))


def test_each_delivery_is_claimed_by_exactly_one_of_many_racing_threads(
    runtime: Runtime, tenant: Tenant
):
    ids = queued_deliveries(runtime, tenant, 20)
    ledger = DeliveryLedger(runtime.database)

    claims = in_threads(60, lambda i: ledger.claim(ids[i % 20]))

    winners = [claim.id for claim in claims if claim is not None]
    assert sorted(winners) == sorted(ids)
    assert {(d.status, d.attempts) for d in stored(runtime, ids).values()} == {(states.SENDING, 1)}


def test_threads_arriving_during_a_commit_share_the_next_transaction(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    ids = queued_deliveries(runtime, tenant, 8)
    ledger = DeliveryLedger(runtime.database)
    batches = holding_the_first_call(monkeypatch, "claim_many", ledger, until_pending=7)

    first = in_background(lambda: ledger.claim(ids[0]))
    wait_until(lambda: batches)
    others = in_background(*(lambda i=i: ledger.claim(ids[i]) for i in range(1, 8)))
    for thread in first + others:
        thread.join()

    assert [len(batch) for batch in batches] == [1, 7]
    assert {d.status for d in stored(runtime, ids).values()} == {states.SENDING}


def test_one_bad_outcome_does_not_fail_the_others_in_its_batch(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    ids = queued_deliveries(runtime, tenant, 3)
    ledger = DeliveryLedger(runtime.database)
    for delivery_id in ids:
        ledger.claim(delivery_id)
    calls = holding_the_first_call(monkeypatch, "record_many", ledger, until_pending=2)
    unstorable = {"to": "x", "oops": object()}  # not JSON

    first = in_background(lambda: ledger.record(states.Result(ids[0], states.SENT)))
    wait_until(lambda: calls)
    good = in_background(lambda: ledger.record(states.Result(ids[1], states.SENT)))
    wait_until(lambda: len(ledger._batches._pending) == 1)
    bad = in_background(
        lambda: ledger.record(states.Result(ids[2], states.FAILED, "x", payload=unstorable))
    )
    for thread in first + good + bad:
        thread.join()

    rows = stored(runtime, ids)
    assert [rows[i].status for i in ids] == [states.SENT, states.SENT, states.SENDING]
    assert bad[0].error is not None and good[0].error is None


def test_outcomes_of_many_threads_are_recorded_together(runtime: Runtime, tenant: Tenant):
    ids = queued_deliveries(runtime, tenant, 3)
    ledger = DeliveryLedger(runtime.database)
    for delivery_id in ids:
        ledger.claim(delivery_id)
    results = [
        states.Result(ids[0], states.SENT),
        states.Result(ids[1], states.FAILED, reason="smtp 550: no such user"),
        states.Result(ids[2], states.QUEUED, reason="smtp 451", payload={"to": "x", "tried": 1}),
    ]

    in_threads(3, lambda i: ledger.record(results[i]))

    rows = stored(runtime, ids)
    assert (rows[ids[0]].status, rows[ids[0]].reason) == (states.SENT, None)
    assert rows[ids[0]].sent_at is not None
    assert (rows[ids[1]].status, rows[ids[1]].reason) == (states.FAILED, "smtp 550: no such user")
    assert rows[ids[1]].sent_at is None
    assert (rows[ids[2]].status, rows[ids[2]].payload) == (states.QUEUED, {"to": "x", "tried": 1})


def test_an_outcome_only_applies_to_a_delivery_being_sent(runtime: Runtime, tenant: Tenant):
    (queued,) = queued_deliveries(runtime, tenant, 1)
    ledger = DeliveryLedger(runtime.database)

    ledger.record(states.Result(queued, states.SENT))

    assert stored(runtime, [queued])[queued].status == states.QUEUED
    with pytest.raises(states.IllegalTransition):
        ledger.record(states.Result(queued, states.CANCELLED))


def test_a_claimed_push_delivery_carries_the_users_active_subscriptions_herald_pushes_to(
    runtime: Runtime, tenant: Tenant, other_tenant: Tenant
):
    ann = make_user(runtime, tenant, external_id="ann")
    stranger = make_user(runtime, other_tenant, external_id="ann")
    endpoints = {
        "kept": (tenant, ann, "web", "https://push.example/kept"),
        "discarded": (tenant, ann, "web", "https://push.example/discarded"),
        "mobile": (tenant, ann, "android", FCM_ENDPOINT),
        "legacy safari": (tenant, ann, "safari", "safari-token"),
        "other app": (other_tenant, stranger, "web", "https://push.example/other"),
    }
    with runtime.database.transaction() as session:
        for name, (owner, user_id, platform, token) in endpoints.items():
            session.add(
                PushSubscription(
                    app_id=owner.app_id,
                    user_id=user_id,
                    platform=platform,
                    device_token=token,
                    token_hash=name,
                    discarded_at=utcnow() if name == "discarded" else None,
                    **WEB_KEYS,
                )
            )
    (delivery_id,) = queued_deliveries(runtime, tenant, 1, channel="push", user_id=ann)

    claimed = DeliveryLedger(runtime.database).claim(delivery_id)

    assert claimed is not None
    targets = {t.platform: t for t in claimed.push_targets}
    assert {(p, t.token) for p, t in targets.items()} == {
        ("web", "https://push.example/kept"),
        ("android", FCM_ENDPOINT),
    }
    assert (targets["web"].p256dh, targets["web"].auth) == (WEB_KEYS["p256dh"], WEB_KEYS["auth"])
    assert claimed.badge is None  # only users with an iOS device get a badge count


def test_a_claim_reads_its_recipient_only_for_an_app_with_an_endpoint_for_delivery_events(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    """An app without webhooks pays no read of its users on the claim; once it has an endpoint,
    the claim carries the recipient its events name, and an outcome of a delivery claimed
    before the endpoint existed is read back for its event."""
    ann = make_user(runtime, tenant, external_id="ann", email="ann@example.com")
    before, after = queued_deliveries(runtime, tenant, 2, user_id=ann)
    # An outbox that keeps nothing: it sees the endpoint as soon as it is committed.
    ledger = DeliveryLedger(runtime.database, outbox=WebhookOutbox())

    with counting_statements(runtime.database.engine) as statements:
        unwatched = ledger.claim(before)
    assert unwatched is not None and not unwatched.identified
    assert (unwatched.external_id, unwatched.email) == (None, None)
    assert not [s for s in statements if "FROM users" in s]

    create_webhook(client, tenant, NOWHERE, ["delivery.sent"])
    ledger.record(
        states.Result(
            before, states.SENT, notification_id=unwatched.notification_id, app_id=tenant.app_id
        )
    )
    [event] = pending_events(runtime)
    assert event["data"]["recipient"] == {"externalId": "ann", "email": "ann@example.com"}

    watched = ledger.claim(after)
    assert watched is not None and watched.identified
    assert (watched.external_id, watched.email) == ("ann", "ann@example.com")
