"""`/metrics`, `/metrics/categories`, `/metrics/topics`: the seed's metric object, in SQL."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.orm import utcnow
from app.runtime import Runtime
from tests.support.broadcasts import post_broadcast, processed
from tests.support.factories import Tenant
from tests.support.recipients import counting_statements
from tests.support.sinks import SmtpSink, wait_until


def metrics(client: FlaskClient, tenant: Tenant, path: str = "/metrics") -> dict:
    response = client.get(path, headers=tenant.headers())
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def rows(body: dict) -> dict[str, dict[str, int]]:
    return {
        label: dict(zip(body["schema"]["columns"], row, strict=True))
        for label, row in zip(body["labels"], body["metrics"], strict=True)
    }


def test_metrics_match_the_deliveries_reads_and_views(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    smtp_sink.fail("bounce@example.com", "550 No such mailbox")
    billing = post_broadcast(
        client,
        tenant,
        category="billing",
        recipients=[
            {"external_id": "u1", "email": "u1@example.com"},
            {"external_id": "u2", "email": "u2@example.com"},
            {"external_id": "u3"},
        ],
    )
    launch = post_broadcast(
        client,
        tenant,
        topic="launch",
        recipients=[{"external_id": "u4", "email": "bounce@example.com"}],
    )
    direct = client.post(
        "/api/v1/notifications/send",
        json={"channels": ["email"], "to": ["d@example.com"], "subject": "S", "body": "B"},
        headers=tenant.headers(),
    ).get_json()["data"]
    for broadcast in (billing, launch):
        processed(client, tenant, broadcast["id"])
    url = f"/api/notifications/{direct['notification_id']}"
    wait_until(
        lambda: client.get(url, headers=tenant.headers()).get_json()["status"] == "completed",
        interval=0.2,
    )
    u1_row = client.get("/notifications", headers=tenant.user_headers("u1")).get_json()
    client.post(
        f"/notifications/{u1_row['notifications'][0]['id']}/read", headers=tenant.user_headers("u1")
    )
    client.post("/notifications/seen", headers=tenant.user_headers("u2"))

    daily = metrics(client, tenant)
    by_category = rows(metrics(client, tenant, "/metrics/categories"))
    by_topic = rows(metrics(client, tenant, "/metrics/topics"))

    today = {  # every column, in the order the schema lists them
        "notifications": 3,
        "broadcasts": 2,
        "recipients": 5,
        "delivered_in_app": 4,
        "delivered_email": 3,
        "delivered_push": 0,
        "failed": 1,
        "skipped": 5,
        "seen": 2,
        "read": 1,
    }
    assert daily["schema"]["columns"] == list(today) and daily["schema"]["rows"] == "day"
    assert len(daily["labels"]) == 31 and daily["labels"][-1] == utcnow().date().isoformat()
    assert rows(daily)[daily["labels"][-1]] == today
    assert all(sum(row) == 0 for row in daily["metrics"][:-1])
    assert by_category["billing"] == {
        "notifications": 1,
        "broadcasts": 1,
        "recipients": 3,
        "delivered_in_app": 3,
        "delivered_email": 2,
        "delivered_push": 0,
        "failed": 0,
        "skipped": 4,
        "seen": 2,
        "read": 1,
    }
    assert sorted(by_category) == ["billing", "uncategorized"]
    assert by_category["uncategorized"]["notifications"] == 2
    assert list(by_topic) == ["launch"]
    assert by_topic["launch"] == {
        **dict.fromkeys(today, 0),
        "notifications": 1,
        "broadcasts": 1,
        "recipients": 1,
        "delivered_in_app": 1,
        "failed": 1,
        "skipped": 1,
    }


def test_metrics_are_per_app(client: FlaskClient, tenant: Tenant, other_tenant: Tenant):
    post_broadcast(client, tenant, category="billing", recipients=[{"external_id": "u1"}])

    theirs = metrics(client, other_tenant)
    categories = metrics(client, other_tenant, "/metrics/categories")

    assert all(sum(row) == 0 for row in theirs["metrics"])
    assert (categories["labels"], categories["metrics"]) == ([], [])


def test_a_period_is_chosen_with_from_and_to(client: FlaskClient, tenant: Tenant):
    post_broadcast(client, tenant, category="billing", recipients=[{"external_id": "u1"}])

    past = metrics(client, tenant, "/metrics?from=2024-01-01T00:00:00Z&to=1704499200")
    past_categories = metrics(client, tenant, "/metrics/categories?from=2024-01-01&to=2024-01-06")

    assert past["labels"] == [f"2024-01-0{d}" for d in range(1, 7)]
    assert past["schema"]["from"] == 1704067200 and past["schema"]["to"] == 1704499200
    assert all(sum(row) == 0 for row in past["metrics"])
    assert past_categories["labels"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("to=soon", "to"),
        ("from=2024-02-01&to=2024-01-01", "from"),
        ("from=2023-01-01&to=2024-01-03", "from"),
        ("to=-62135596800", "to"),
        ("from=253402300000&to=253402300799", "to"),
        ("to=0001-01-01T00:00:00", "to"),
    ],
)
def test_a_bad_period_is_422(client: FlaskClient, tenant: Tenant, query: str, field: str):
    response = client.get(f"/metrics/topics?{query}", headers=tenant.headers())

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


def test_metrics_cost_the_same_few_queries_however_much_was_sent(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    def statements() -> int:
        with counting_statements(runtime.database.engine) as seen:
            metrics(client, tenant, "/metrics/categories")
        return len(seen)

    post_broadcast(client, tenant, category="a", recipients=[{"external_id": "u1"}])
    few = statements()
    for category in "bcdef":
        post_broadcast(client, tenant, category=category, recipients=[{"external_id": "u1"}])

    assert statements() == few
