"""Every request is counted for the operations metrics by the route it matched (its URL rule,
never the raw path: ids would make a series each), method and status, and timed; a call refused
for its spent budget is counted by kind and caller."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient

from app import ratelimit
from app.runtime import Runtime
from tests.support.factories import Tenant, make_tenant
from tests.support.metrics import increase

NOTIFICATION = "/api/notifications/<notification_id>"


def test_requests_are_counted_by_url_rule_and_status_and_unmatched_ones_together(
    client: FlaskClient, tenant: Tenant
):
    by_rule = increase("herald_http_requests_total", route=NOTIFICATION, method="GET", status="404")
    timed = increase("herald_http_request_duration_seconds_count", route=NOTIFICATION, method="GET")
    unmatched = increase(
        "herald_http_requests_total", route="unmatched", method="GET", status="404"
    )

    for _ in range(2):
        client.get(f"/api/notifications/{uuid.uuid4()}", headers=tenant.headers())
    client.get(f"/no/such/{uuid.uuid4()}")

    assert (by_rule(), timed(), unmatched()) == (2, 2, 1)


def test_a_call_refused_for_its_spent_budget_is_counted_by_kind_and_caller(
    client: FlaskClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(ratelimit, "clock", lambda: 1_800_000_020.0)  # one window throughout
    strict = make_tenant(runtime, "strict", rate_limit_read_per_minute=1)
    server_reads = increase("herald_rate_limit_refusals_total", kind="read", caller="server")
    user_reads = increase("herald_rate_limit_refusals_total", kind="read", caller="user")

    statuses = [client.get("/broadcasts", headers=strict.headers()).status_code for _ in range(3)]

    assert statuses == [200, 429, 429]
    assert (server_reads(), user_reads()) == (2, 0)
