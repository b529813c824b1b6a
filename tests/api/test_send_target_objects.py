"""A send's target object upserts the profile it carries, its email address included."""

from __future__ import annotations

import dramatiq
from flask.testing import FlaskClient
from sqlalchemy import select

from app.runtime import Runtime
from app.users.models import User
from app.users.service import find_or_create_user
from tests.support.factories import Tenant, approved_template
from tests.support.sinks import SmtpSink, wait_until

URL = "/api/notifications/send"
VARIABLES = {"customerName": "Zoe", "orderId": "O-7"}


def send(client: FlaskClient, tenant: Tenant, targets: list, mode: str = "batch"):  # type: ignore[no-untyped-def]
    request = {
        "template": {"key": "order-confirmation", "variables": VARIABLES},
        "targets": targets,
        "mode": mode,
    }
    return client.post(URL, json=request, headers=tenant.headers())


def add_user(runtime: Runtime, tenant: Tenant, external_id: str, email: str) -> None:
    with runtime.database.transaction() as session:
        user = find_or_create_user(session=session, app_id=tenant.app_id, external_id=external_id)
        user.email = email


def profile(runtime: Runtime, tenant: Tenant, external_id: str) -> tuple[str | None, str | None]:
    with runtime.database.transaction() as session:
        user = session.scalars(
            select(User).where(User.app_id == tenant.app_id, User.external_id == external_id)
        ).one()
        return user.email, user.first_name


def test_a_target_objects_email_replaces_the_stored_one_and_is_where_the_email_goes(
    client: FlaskClient,
    tenant: Tenant,
    runtime: Runtime,
    worker: dramatiq.Worker,
    smtp_sink: SmtpSink,
):
    approved_template(client, tenant)
    add_user(runtime, tenant, "u1", "old@example.com")

    target = {"external_id": "u1", "email": "new@example.com", "first_name": "Zoe"}
    response = send(client, tenant, [target])
    wait_until(lambda: smtp_sink.count() == 1)

    assert response.status_code == 202, response.get_json()
    assert smtp_sink.recipients() == ["new@example.com"]
    assert profile(runtime, tenant, "u1") == ("new@example.com", "Zoe")


def test_an_email_another_user_owns_rejects_that_target_and_the_rest_go_on(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    approved_template(client, tenant)
    add_user(runtime, tenant, "u1", "old@example.com")
    add_user(runtime, tenant, "u2", "taken@example.com")

    response = send(
        client,
        tenant,
        [{"external_id": "u1", "email": "taken@example.com"}, {"external_id": "u3"}],
    )

    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["rejected"] == [{"target": "u1", "reason": "email_taken"}]
    assert body["targets"] == 1
    assert profile(runtime, tenant, "u1") == ("old@example.com", None)


def test_two_targets_of_one_send_claiming_one_address_keep_it_for_the_first(
    client: FlaskClient, tenant: Tenant
):
    approved_template(client, tenant)

    response = send(
        client,
        tenant,
        [
            {"external_id": "a", "email": "shared@example.com"},
            {"external_id": "b", "email": "shared@example.com"},
        ],
    )

    assert response.get_json()["rejected"] == [{"target": "b", "reason": "email_taken"}]


def test_a_user_known_by_email_alone_is_adopted_not_taken(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    approved_template(client, tenant)
    with runtime.database.transaction() as session:
        find_or_create_user(session=session, app_id=tenant.app_id, email="solo@example.com")

    response = send(client, tenant, [{"external_id": "u9", "email": "solo@example.com"}])

    assert response.get_json()["rejected"] == []


def test_a_realtime_send_whose_only_target_is_taken_is_refused(
    client: FlaskClient, tenant: Tenant, runtime: Runtime
):
    approved_template(client, tenant)
    add_user(runtime, tenant, "u2", "taken@example.com")

    response = send(
        client, tenant, [{"external_id": "u1", "email": "taken@example.com"}], mode="realtime"
    )

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["code"] == "ERR_NO_ALLOWED_TARGETS"
