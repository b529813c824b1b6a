"""`herald templates submit|approve|reject`: the review of templates from the command line,
through the template store's workflow, answered and refused as the templates API does."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.cli import Herald
from tests.support.factories import Tenant
from tests.support.template_factories import template_document

KEY = "order-confirmation"


def draft(client: FlaskClient, tenant: Tenant) -> None:
    created = client.post("/api/templates", json=template_document(KEY), headers=tenant.headers())
    assert created.status_code == 201, created.get_json()


def test_submit_then_approve_makes_the_template_sendable_and_records_the_cli(
    cli: Herald, client: FlaskClient, tenant: Tenant
):
    draft(client, tenant)

    submitted = cli("templates", "submit", KEY, "--app", tenant.app_id)
    approved = cli("templates", "approve", KEY, "--app", tenant.app_id)

    assert (submitted["status"], submitted["submittedBy"]) == ("pending", "cli")
    assert (approved["status"], approved["approvedVersion"], approved["reviewedBy"]) == (
        "approved",
        1,
        "cli",
    )
    shown = client.get(f"/api/templates/{KEY}", headers=tenant.headers()).get_json()
    assert approved == shown


def test_reject_needs_a_reason_as_the_api_does(cli: Herald, client: FlaskClient, tenant: Tenant):
    draft(client, tenant)
    cli("templates", "submit", KEY, "--app", tenant.app_id)

    refused = cli.refusal("templates", "reject", KEY, "--app", tenant.app_id)
    rejected = cli("templates", "reject", KEY, "--app", tenant.app_id, "--reason", "Typo")

    answered = client.post(f"/api/templates/{KEY}/reject", json={}, headers=tenant.headers())
    assert (answered.status_code, answered.get_json()) == (400, refused)
    assert (rejected["status"], rejected["rejectionReason"]) == ("rejected", "Typo")


def test_a_transition_the_workflow_forbids_is_refused_with_the_apis_error(
    cli: Herald, client: FlaskClient, tenant: Tenant
):
    draft(client, tenant)

    refused = cli.refusal("templates", "approve", KEY, "--app", tenant.app_id)

    answered = client.post(f"/api/templates/{KEY}/approve", json={}, headers=tenant.headers())
    assert (answered.status_code, answered.get_json()) == (409, refused)
    assert refused["errors"][0]["code"] == "ERR_INVALID_TRANSITION"


def test_a_version_or_template_that_does_not_exist_is_refused(cli: Herald, tenant: Tenant):
    missing = cli.refusal("templates", "submit", "nope", "--app", tenant.app_id)
    beyond = cli.refusal("templates", "submit", "nope", "--app", tenant.app_id, "--version", "0")

    assert missing["errors"][0]["code"] == "ERR_TEMPLATE_NOT_FOUND"
    assert beyond["errors"][0]["field"] == "version"
