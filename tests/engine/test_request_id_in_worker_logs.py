"""The request id of a send follows it into the workers: every delivery log line of the send, in
the chunk task that fans it out and in each email task after it, carries the id of the request
that accepted it, so one search for that id shows the send's whole path."""

from __future__ import annotations

import logging

import pytest
from flask.testing import FlaskClient

from tests.support.delivery_logs import delivery_lines
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import SEND, finished, people, send_request


def send_with_request_id(
    client: FlaskClient, tenant: Tenant, targets: list, request_id: str
) -> str:
    """A batch sent with the caller's `X-Request-ID`, which Herald keeps as the request's id."""
    response = client.post(
        SEND,
        json=send_request(targets),
        headers={**tenant.headers(), "X-Request-ID": request_id},
    )
    assert response.status_code == 202, response.get_json()
    assert response.headers["X-Request-ID"] == request_id
    return response.get_json()["notificationId"]


@pytest.mark.usefixtures("smtp_sink", "worker")
def test_each_sends_worker_log_lines_carry_the_id_of_the_request_that_accepted_it(
    client: FlaskClient, tenant: Tenant, caplog: pytest.LogCaptureFixture
):
    approved_template(client, tenant)

    with caplog.at_level(logging.INFO, logger="herald.delivery"):
        first = send_with_request_id(client, tenant, people(3, prefix="a"), "send-first")
        second = send_with_request_id(client, tenant, people(3, prefix="b"), "send-second")
        finished(client, tenant, first)
        finished(client, tenant, second)
        # Per recipient: in-app sent and push skipped at fan-out (chunk task), email sent later
        # (its own task, enqueued by the chunk task).
        first_lines = delivery_lines(caplog, first, count=9)
        second_lines = delivery_lines(caplog, second, count=9)

    assert {(r.channel, r.event) for r in first_lines} == {
        ("in_app", "sent"),
        ("push", "skipped"),
        ("email", "sent"),
    }
    assert {r.request_id for r in first_lines} == {"send-first"}
    assert {r.request_id for r in second_lines} == {"send-second"}
