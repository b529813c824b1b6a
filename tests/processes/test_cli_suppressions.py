"""`herald suppressions list|add|remove`: the suppression list from the command line, in the API's
words (camelCase JSON on stdout, the error envelope on stderr)."""

from __future__ import annotations

from flask.testing import FlaskClient

from app.runtime import Runtime
from app.suppressions.models import SuppressionReason
from app.suppressions.service import suppress
from tests.support.deliverability import suppression_list
from tests.support.factories import Tenant


def test_add_lists_and_removes_as_the_api_does(cli, client: FlaskClient, tenant: Tenant):
    added = cli("suppressions", "add", "--app", tenant.app_id, "Ann@Example.com", "bo@example.com")
    listed = cli("suppressions", "list", "--app", tenant.app_id)
    removed = cli("suppressions", "remove", "--app", tenant.app_id, "ANN@example.com")

    assert [(e["email"], e["reason"]) for e in added] == [
        ("ann@example.com", "manual"),
        ("bo@example.com", "manual"),
    ]
    assert set(added[0]) == {"email", "reason", "createdAt"}
    assert sorted(e["email"] for e in listed) == ["ann@example.com", "bo@example.com"]
    assert removed == {"email": "ann@example.com", "removed": True}
    assert [e["email"] for e in suppression_list(client, tenant)] == ["bo@example.com"]


def test_list_filters_by_reason(cli, runtime: Runtime, tenant: Tenant):
    with runtime.database.transaction() as session:
        reason = SuppressionReason.HARD_BOUNCE
        suppress(session, app_id=tenant.app_id, emails=["gone@example.com"], reason=reason)
    cli("suppressions", "add", "--app", tenant.app_id, "ann@example.com")

    bounced = cli("suppressions", "list", "--app", tenant.app_id, "--reason", "hard_bounce")

    assert [(e["email"], e["reason"]) for e in bounced] == [("gone@example.com", "hard_bounce")]


def test_refusals_print_the_error_envelope(cli, tenant: Tenant):
    absent = cli.refusal("suppressions", "remove", "--app", tenant.app_id, "ann@example.com")
    invalid = cli.refusal("suppressions", "add", "--app", tenant.app_id, "not an address")
    no_app = cli.refusal("suppressions", "list", "--app", "no-such-app")

    assert absent["errors"][0]["code"] == "ERR_SUPPRESSION_NOT_FOUND"
    assert (invalid["errors"][0]["code"], invalid["errors"][0]["field"]) == (
        "ERR_BAD_REQUEST",
        "emails.0",
    )
    assert no_app["errors"][0]["code"] == "ERR_APP_NOT_FOUND"
