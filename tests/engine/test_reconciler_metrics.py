"""A reconciler pass counts what it did, by action, for the operations metrics: the lost work it
requeued, the retries it released."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.metrics import counted
from tests.support.pipeline import batch, people
from workers.actors import Actors
from workers.process_metrics import count_reconciled
from workers.reconciler import Reconciled, reconcile_once


def actions(action: str) -> float:
    return counted("herald_reconciler_actions_total", action=action)


def requeued_notifications() -> float:
    return actions("requeued_notification")


def test_a_pass_counts_the_notifications_it_requeued(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    approved_template(client, tenant)
    before = requeued_notifications()
    batch(client, tenant, people(1))
    actors.broker.flush_all()  # its dispatch message lost, as with a Redis restart

    reconciled = reconcile_once(runtime, actors, stale_after=timedelta(0))

    assert reconciled.notifications == 1
    assert requeued_notifications() - before == 1


def test_each_action_is_counted_under_the_name_docs_operations_md_gives_it():
    names = [
        "requeued_notification",
        "requeued_chunk",
        "requeued_delivery",
        "requeued_import",
        "released_retry",
    ]
    before = {name: actions(name) for name in names}

    count_reconciled(
        Reconciled(
            notifications=1,
            chunks=2,
            deliveries=3,
            imports=4,
            expired_idempotency_records=9,
            due_retries=5,
        )
    )

    assert {name: actions(name) - before[name] for name in names} == dict(
        zip(names, [1, 2, 3, 4, 5], strict=True)
    )
