"""The delivery ledger when things go wrong: a commit interrupted or failed, a connection the
database dropped, an outage, and an error before sending; the other threads of a batch carry
on, and nothing is claimed that was not committed. Both engines, real threads."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from app import db
from app.db import Database
from app.engine import sending, states
from app.engine.ledger import DeliveryLedger
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.fakes import with_unreadable_senders
from tests.support.ledger import holding_the_first_call, in_background, queued_deliveries, stored
from tests.support.sinks import wait_until


class Interrupted(BaseException):
    """Like Dramatiq's time limit: raised in a thread, and not an `Exception`."""


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
