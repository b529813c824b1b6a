"""`herald send --send-at` schedules as `sendAt` does, and `herald notifications list --status
scheduled` lists what is still pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient

from tests.support.cli import Herald
from tests.support.factories import Tenant, approved_template


def send(tenant: Tenant, *extra: str) -> list[str]:
    return [
        "send", "--app", tenant.app_id, "--template", "order-confirmation", "--targets", "u1",
        "--var", "customerName=Jane", "--var", "orderId=ORD-1", *extra,
    ]  # fmt: skip


def test_send_at_schedules_the_send_and_the_list_shows_it_pending(
    cli: Herald, client: FlaskClient, tenant: Tenant
):
    approved_template(client, tenant)
    later = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)

    scheduled = cli(*send(tenant, "--send-at", later.isoformat()))
    now = cli(*send(tenant))
    pending = cli("notifications", "list", "--app", tenant.app_id, "--status", "scheduled")

    assert (scheduled["status"], scheduled["sendAt"]) == (
        "scheduled",
        later.isoformat().replace("+00:00", "Z"),
    )
    assert now["sendAt"] is None
    assert [n["notificationId"] for n in pending["notifications"]] == [scheduled["notificationId"]]


def test_a_send_at_in_the_past_is_refused_as_the_api_refuses_it(
    cli: Herald, client: FlaskClient, tenant: Tenant
):
    approved_template(client, tenant)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    refused = cli.refusal(*send(tenant, "--send-at", yesterday))

    [error] = refused["errors"]
    assert (error["code"], error["field"]) == ("ERR_BAD_REQUEST", "sendAt")
