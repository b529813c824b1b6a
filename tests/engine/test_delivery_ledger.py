"""The delivery ledger: claims and outcomes of many worker threads share transactions, and each
delivery is still claimed by exactly one of them. Both engines, real threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from app import db
from app.db import Database
from app.engine import sending, states
from app.engine.ledger import DeliveryLedger
from app.engine.models import Delivery, Notification
from app.orm import utcnow
from app.push.models import PushSubscription
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.fakes import with_unreadable_senders
from tests.support.recipients import FCM_ENDPOINT, WEB_KEYS, make_user
from tests.support.sinks import wait_until


def queued_deliveries(
    runtime: Runtime,
    tenant: Tenant,
    count: int,
    *,
    channel: str = "email",
    user_id: str | None = None,
) -> list[str]:
    with runtime.database.transaction() as session:
        notification = Notification(
            app_id=tenant.app_id, kind="template", mode="batch", channels=[channel]
        )
        session.add(notification)
        session.flush()
        rows = [
            Delivery(
                app_id=tenant.app_id,
                notification_id=notification.id,
                user_id=user_id,
                channel=channel,
                target=f"u{i}@example.com",
                status=states.QUEUED,
                payload={"to": f"u{i}@example.com"},
            )
            for i in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def stored(runtime: Runtime, delivery_ids: Sequence[str]) -> dict[str, Delivery]:
    with runtime.database.transaction() as session:
        rows = session.scalars(select(Delivery).where(Delivery.id.in_(list(delivery_ids))))
        return {row.id: row for row in rows}


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


def holding_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    ledger: DeliveryLedger,
    *,
    until_pending: int,
    then_raise: BaseException | None = None,
) -> list[list]:
    """Make `states.<name>` hold its first call until `until_pending` items wait for the next
    batch (then optionally raise); returns the items each call was given."""
    real = getattr(states, name)
    calls: list[list] = []

    def held(connection: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(kwargs.get("delivery_ids") or args[0]))
        if len(calls) == 1:
            wait_until(lambda: len(ledger._batches._pending) >= until_pending)
            if then_raise is not None:
                raise then_raise
        return real(connection, *args, **kwargs)

    monkeypatch.setattr(states, name, held)
    return calls


class Background:
    """One call running in its own thread; `error` is what it raised, if anything."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.error: BaseException | None = None
        self._call = call
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._call()
        except BaseException as exc:  # reported to the test, not to the thread's hook
            self.error = exc

    def join(self) -> None:
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the call never returned"


def in_background(*calls: Callable[[], Any]) -> list[Background]:
    return [Background(call) for call in calls]


class Interrupted(BaseException):
    """Like Dramatiq's time limit: raised in a thread, and not an `Exception`."""


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


def test_an_interrupted_commit_hands_the_next_batch_on(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    ids = queued_deliveries(runtime, tenant, 3)
    ledger = DeliveryLedger(runtime.database)
    calls = holding_the_first_call(
        monkeypatch, "claim_many", ledger, until_pending=2, then_raise=Interrupted()
    )

    first = in_background(lambda: ledger.claim(ids[0]))
    wait_until(lambda: calls)
    rest = in_background(lambda: ledger.claim(ids[1]), lambda: ledger.claim(ids[2]))
    for thread in first + rest:
        thread.join()

    assert isinstance(first[0].error, Interrupted)
    assert [call.error for call in rest] == [None, None]
    rows = stored(runtime, ids)
    assert [rows[i].status for i in ids] == [states.QUEUED, states.SENDING, states.SENDING]
    assert ledger.claim(ids[0]) is not None


def test_a_thread_interrupted_before_running_its_flush_hands_the_turn_on(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    ids = queued_deliveries(runtime, tenant, 2)
    ledger = DeliveryLedger(runtime.database)
    batches = ledger._batches
    real_run_pending = batches._run_pending
    interrupted = threading.Event()

    def interrupted_once() -> None:  # Dramatiq's time limit landing just before the flush
        if not interrupted.is_set():
            interrupted.set()
            raise Interrupted()
        real_run_pending()

    monkeypatch.setattr(batches, "_run_pending", interrupted_once)
    with pytest.raises(Interrupted):
        ledger.claim(ids[0])
    later = in_background(lambda: ledger.claim(ids[1]))
    later[0].join()  # fails if it waits for a turn nobody hands on

    assert later[0].error is None
    rows = stored(runtime, ids)
    assert [rows[i].status for i in ids] == [states.QUEUED, states.SENDING]


def test_a_failed_commit_fails_every_thread_of_its_batch_and_claims_nothing(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    ids = queued_deliveries(runtime, tenant, 3)
    ledger = DeliveryLedger(runtime.database)
    real_claim_many = states.claim_many

    def failing(connection: Any, *, delivery_ids: Sequence[str]) -> list:
        real_claim_many(connection, delivery_ids=delivery_ids)
        raise RuntimeError("database went away")

    monkeypatch.setattr(states, "claim_many", failing)
    with pytest.raises(RuntimeError, match="database went away"):
        ledger.claim(ids[0])
    assert {d.status for d in stored(runtime, ids).values()} == {states.QUEUED}

    monkeypatch.setattr(states, "claim_many", real_claim_many)
    assert ledger.claim(ids[0]) is not None


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


@pytest.mark.parametrize("engine_name", ["postgresql"])  # SQLite has no server to drop them
def test_a_connection_the_database_dropped_is_replaced_without_losing_the_batch(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    ids = queued_deliveries(runtime, tenant, 2)
    # Pooled connections are pinged only after sitting idle: never, here, however slow the run,
    # so the ledger itself meets the dead connections.
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    worker_database = Database(runtime.database.url)
    ledger = DeliveryLedger(worker_database)
    ledger.claim(ids[0])
    pooled = [
        worker_database.engine.connect() for _ in range(worker_database.engine.pool.checkedin())
    ]
    pids = [connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() for connection in pooled]
    for connection in pooled:
        connection.close()  # back in the pool, where the ledger will find them dead
    with runtime.database.engine.connect() as admin:
        for pid in pids:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")

    try:
        ledger.record(states.Result(ids[0], states.SENT))
        claimed = ledger.claim(ids[1])
    finally:
        worker_database.dispose()

    assert claimed is not None
    assert [stored(runtime, ids)[i].status for i in ids] == [states.SENT, states.SENDING]


def test_an_error_before_sending_makes_the_claimed_delivery_wait_for_its_next_attempt(
    runtime: Runtime, tenant: Tenant
):
    (delivery_id,) = queued_deliveries(runtime, tenant, 1)

    with pytest.raises(RuntimeError):
        sending.send_email_delivery(with_unreadable_senders(runtime), delivery_id=delivery_id)

    delivery = stored(runtime, [delivery_id])[delivery_id]
    assert (delivery.status, delivery.reason) == (
        states.RETRYING,
        "error before sending: RuntimeError",
    )
    assert delivery.next_attempt_at is not None


def test_an_error_before_sending_on_the_last_allowed_attempt_fails_the_delivery(
    runtime: Runtime, tenant: Tenant
):
    (delivery_id,) = queued_deliveries(runtime, tenant, 1)
    limit = runtime.retry_policy.max_attempts
    unreadable = with_unreadable_senders(runtime)

    for _ in range(limit):
        with pytest.raises(RuntimeError):
            sending.send_email_delivery(unreadable, delivery_id=delivery_id)
    after_limit = sending.send_email_delivery(unreadable, delivery_id=delivery_id)

    delivery = stored(runtime, [delivery_id])[delivery_id]
    assert (delivery.status, delivery.attempts) == (states.FAILED, limit)
    assert delivery.reason == f"gave up after {limit} attempts: error before sending: RuntimeError"
    assert after_limit == sending.NOT_CLAIMED


def test_an_outage_fails_the_whole_batch_at_once_without_retrying_each_item(
    runtime: Runtime, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    ids = queued_deliveries(runtime, tenant, 3)
    ledger = DeliveryLedger(runtime.database, lost_connection_pauses_s=(0.0, 0.0))
    calls: list[list[str]] = []
    real_claim_many = states.claim_many

    def claim_many(connection: Any, *, delivery_ids: Sequence[str]) -> list:
        calls.append(list(delivery_ids))
        if len(calls) == 1:
            wait_until(lambda: len(ledger._batches._pending) >= 2)
            return real_claim_many(connection, delivery_ids=delivery_ids)
        raise OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(states, "claim_many", claim_many)
    first = in_background(lambda: ledger.claim(ids[0]))
    wait_until(lambda: calls)
    rest = in_background(lambda: ledger.claim(ids[1]), lambda: ledger.claim(ids[2]))
    for call in first + rest:
        call.join()

    # The second batch is tried on fresh connections (twice more here), then fails as a whole.
    assert [len(batch) for batch in calls] == [1, 2, 2, 2]
    assert first[0].error is None
    assert [type(call.error) for call in rest] == [OperationalError, OperationalError]
