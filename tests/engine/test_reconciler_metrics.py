"""A reconciler pass counts what it did, by action, for the operations metrics: the lost work it
requeued, the retries it released."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from app.observability.metrics import metrics
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch, people
from workers.actors import Actors
from workers.reconciler import reconcile_once


def requeued_notifications() -> float:
    labels = {"action": "requeued_notification"}
    return metrics().registry.get_sample_value("herald_reconciler_actions_total", labels) or 0.0


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
