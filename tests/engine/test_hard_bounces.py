"""Hard bounces and the suppression list, through a real worker and a real SMTP server, on SQLite
and PostgreSQL: an address the relay says does not exist is never mailed again."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.deliverability import (
    JANE,
    email_outcome,
    email_template,
    send_and_wait,
    suppression_list,
)
from tests.support.factories import Tenant
from tests.support.sinks import SmtpSink

GONE = {"external_id": "gone", "email": "gone@example.com"}


def test_550_5_1_1_fails_with_the_reason_and_later_batches_skip_the_address(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    email_template(client, tenant, "news", category="newsletter")
    email_template(client, tenant, "offers", category="offers")
    smtp_sink.fail("gone@example.com", "550 5.1.1 No such user", times=5)

    first = send_and_wait(client, tenant, "news", [GONE, JANE])

    failed = ("failed", "smtp 550: 5.1.1 No such user")
    assert email_outcome(client, tenant, first, "gone") == failed
    [entry] = suppression_list(client, tenant)
    assert (entry["email"], entry["reason"]) == ("gone@example.com", "hard_bounce")
    later = send_and_wait(client, tenant, "offers", [GONE, JANE])
    assert email_outcome(client, tenant, later, "gone") == ("skipped", "suppressed")
    assert email_outcome(client, tenant, later, "jane") == ("sent", None)
    assert smtp_sink.attempts("gone@example.com") == 1


def test_other_permanent_refusals_fail_without_suppressing_the_address(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    email_template(client, tenant, "news", category="newsletter")
    smtp_sink.fail("gone@example.com", "550 5.7.1 Rejected by policy", times=1)

    first = send_and_wait(client, tenant, "news", [GONE])
    again = send_and_wait(client, tenant, "news", [GONE])

    assert email_outcome(client, tenant, first, "gone")[0] == "failed"
    assert suppression_list(client, tenant) == []
    assert email_outcome(client, tenant, again, "gone") == ("sent", None)


def test_an_address_an_operator_suppressed_is_skipped_whatever_its_case(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, worker
):
    email_template(client, tenant, "news", category="newsletter")
    added = client.post(
        "/api/suppressions", json={"emails": ["Jane@Example.COM"]}, headers=tenant.headers()
    )
    assert added.status_code == 201, added.get_json()

    sent = send_and_wait(client, tenant, "news", [JANE])

    assert email_outcome(client, tenant, sent, "jane") == ("skipped", "suppressed")
    assert smtp_sink.attempts("jane@example.com") == 0
