"""`herald send`: the send API's request from the command line, with its checks, its answer
and its error envelope; what it sends is delivered by the workers."""

from __future__ import annotations

import json
from pathlib import Path

import dramatiq
from flask.testing import FlaskClient

from tests.support.cli import Herald
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import SEND, send_request
from tests.support.sinks import SmtpSink, wait_until

VARS = ("--var", "customerName=Jane", "--var", "orderId=ORD-1")


def send(cli: Herald, tenant: Tenant, targets: str, *extra: str) -> dict:
    return cli(
        "send", "--app", tenant.app_id, "--template", "order-confirmation", "--targets", targets,
        *VARS, *extra,
    )  # fmt: skip


def finished(client: FlaskClient, tenant: Tenant, notification_id: str) -> dict:
    def view() -> dict | None:
        body = client.get(f"/api/notifications/{notification_id}", headers=tenant.headers())
        done = body.get_json()["status"] in ("completed", "completed_with_errors")
        return body.get_json() if done else None

    return wait_until(view)


def test_send_to_comma_separated_ids_answers_as_the_send_api_and_is_delivered(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker: dramatiq.Worker
):
    approved_template(client, tenant)

    sent = send(cli, tenant, "u1, u2")

    request = send_request(["u3"], "batch", variables={"customerName": "Jane", "orderId": "ORD-2"})
    api = client.post(SEND, json=request, headers=tenant.headers())
    assert set(sent) == set(api.get_json())
    assert (sent["mode"], sent["targets"], sent["templateKey"]) == (
        "batch",
        2,
        "order-confirmation",
    )
    done = finished(client, tenant, sent["notificationId"])
    assert done["status"] == "completed"
    assert done["progress"]["in_app"]["sent"] == 2


def test_send_reads_a_json_file_of_ids_and_target_objects(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker, smtp_sink: SmtpSink, tmp_path: Path
):
    approved_template(client, tenant)
    targets = tmp_path / "targets.json"
    targets.write_text(json.dumps(["u1", {"external_id": "u2", "email": "zoe@example.com"}]))

    sent = send(cli, tenant, str(targets))

    done = finished(client, tenant, sent["notificationId"])
    assert done["progress"]["email"] == {
        "total": 2, "queued": 0, "retrying": 0, "sent": 1, "failed": 0, "skipped": 1,
        "cancelled": 0,
    }  # fmt: skip
    [email] = smtp_sink.received_by("zoe@example.com")
    assert email["Subject"] == "Order ORD-1 confirmed"


def test_send_reads_a_csv_file_with_a_header_row(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker, smtp_sink: SmtpSink, tmp_path: Path
):
    email = {"subject": "Hi {{ user.first_name }}", "text": "Order {{ orderId }}"}
    approved_template(client, tenant, channels={"email": email})
    targets = tmp_path / "people.csv"
    targets.write_text(
        "external_id,email,first_name\nu1,ann@example.com,Ann\nu2,,Bob\n,bea@example.com,Bea\n"
    )

    sent = send(cli, tenant, str(targets))

    assert sent["targets"] == 3
    done = finished(client, tenant, sent["notificationId"])
    assert (done["progress"]["email"]["sent"], done["progress"]["email"]["skipped"]) == (2, 1)
    subjects = {r: [m["Subject"] for m in smtp_sink.received_by(r)] for r in smtp_sink.recipients()}
    assert subjects == {"ann@example.com": ["Hi Ann"], "bea@example.com": ["Hi Bea"]}


def test_a_realtime_send_answers_as_the_send_api_and_is_delivered(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker, smtp_sink: SmtpSink, tmp_path: Path
):
    approved_template(client, tenant)
    targets = tmp_path / "one.json"
    targets.write_text(json.dumps([{"external_id": "u1", "email": "ann@example.com"}]))

    sent = send(cli, tenant, str(targets), "--mode", "realtime")

    assert (sent["mode"], sent["targets"]) == ("realtime", 1)
    assert finished(client, tenant, sent["notificationId"])["status"] == "completed"
    assert len(smtp_sink.received_by("ann@example.com")) == 1


def test_a_refused_send_prints_the_send_apis_error_envelope_and_exits_1(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker
):
    approved_template(client, tenant)

    refused = cli.refusal(
        "send", "--app", tenant.app_id, "--template", "order-confirmation", "--targets", "u1",
        "--var", "customerName:=5", "--var", "orderId=ORD-1",
    )  # fmt: skip

    answered = client.post(
        "/api/notifications/send",
        json={
            "template": {
                "key": "order-confirmation",
                "variables": {"customerName": 5, "orderId": "ORD-1"},
            },
            "targets": ["u1"],
            "mode": "batch",
        },
        headers=tenant.headers(),
    )
    assert (answered.status_code, answered.get_json()) == (400, refused)
    assert refused["errors"][0]["code"] == "ERR_INVALID_VARIABLES"
    listed = client.get("/api/notifications", headers=tenant.headers()).get_json()
    assert listed["notifications"] == []


def test_each_of_the_send_apis_checks_refuses_from_the_command_line(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker, tmp_path: Path
):
    approved_template(client, tenant)
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("external_id,email\nu1,not-an-email\n")

    def code(*args: str) -> tuple[str, str | None]:
        [error, *_] = cli.refusal("send", "--app", tenant.app_id, *args)["errors"]
        return error["code"], error.get("field")

    ok = ("--template", "order-confirmation", *VARS)
    assert code(*ok, "--targets", "u1", "--mode", "loud") == ("ERR_INVALID_MODE", "mode")
    assert code(*ok, "--targets", str(bad_csv)) == ("ERR_BAD_REQUEST", "targets.0.email")
    assert code(*ok, "--targets", str(tmp_path / "missing.json")) == ("ERR_BAD_REQUEST", "targets")
    assert code(*ok, "--targets", " , ") == ("ERR_BAD_REQUEST", "targets")
    assert code("--template", "nope", *VARS, "--targets", "u1")[0] == "ERR_TEMPLATE_NOT_FOUND"
    assert code(*ok, "--targets", "u1", "--var", "broken")[1] == "template.variables"
    assert cli.refusal(
        "send", "--app", "no-such-app", *ok, "--targets", "u1"
    )["errors"][0]["code"] == "ERR_APP_NOT_FOUND"  # fmt: skip


def test_an_idempotency_key_sends_once_and_replays_the_first_answer(
    cli: Herald, client: FlaskClient, tenant: Tenant, worker
):
    approved_template(client, tenant)

    first = send(cli, tenant, "u1,u2", "--idempotency-key", "order-1")
    again = send(cli, tenant, "u1,u2", "--idempotency-key", "order-1")
    reused = cli.refusal(
        "send", "--app", tenant.app_id, "--template", "order-confirmation", "--targets", "u3",
        *VARS, "--idempotency-key", "order-1",
    )  # fmt: skip

    assert again == first
    assert reused["errors"][0]["code"] == "idempotency_key_reused"
    listed = client.get("/api/notifications", headers=tenant.headers()).get_json()
    assert [n["notificationId"] for n in listed["notifications"]] == [first["notificationId"]]
