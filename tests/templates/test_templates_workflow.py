"""Review workflow: every transition, its scope, who did it, and which version sends use."""

from __future__ import annotations

import time

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.runtime import Runtime
from app.tenants.models import SecretKey
from templates_store import service
from templates_store.errors import TemplateNotApproved, TemplateNotFound
from tests.support.factories import Tenant, make_key
from tests.support.template_factories import template_document

URL = "/api/templates"
KEY = "order-confirmation"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def code(response) -> str:
    return response.get_json()["errors"][0]["code"]


def key_id_of(runtime: Runtime, tenant: Tenant, scopes: list[str]) -> str:
    with runtime.database.transaction() as session:
        keys = session.scalars(select(SecretKey).where(SecretKey.app_id == tenant.app_id))
        return next(k.id for k in keys if k.scopes == scopes and not k.is_primary)


@pytest.fixture
def author(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    return bearer(make_key(runtime, tenant, ["manage_templates"]))


@pytest.fixture
def reviewer(runtime: Runtime, tenant: Tenant) -> dict[str, str]:
    return bearer(make_key(runtime, tenant, ["approve_templates"]))


@pytest.fixture
def created(client: FlaskClient, author: dict[str, str]) -> dict:
    response = client.post(URL, json=template_document(), headers=author)
    assert response.status_code == 201
    return response.get_json()


def act(client: FlaskClient, action: str, headers: dict[str, str], **body) -> object:
    if action == "reject":
        body.setdefault("reason", "Not on brand.")
    return client.post(f"{URL}/{KEY}/{action}", json=body, headers=headers)


def test_draft_is_submitted_then_approved_recording_who_and_when(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, created, author, reviewer
):
    submitted = act(client, "submit", author)
    approved = act(client, "approve", reviewer)

    assert (submitted.status_code, approved.status_code) == (200, 200)
    assert submitted.get_json()["status"] == "pending"
    body = approved.get_json()
    assert (body["status"], body["version"], body["approvedVersion"]) == ("approved", 1, 1)
    assert (
        body["createdBy"] == body["submittedBy"] == key_id_of(runtime, tenant, ["manage_templates"])
    )
    assert body["reviewedBy"] == key_id_of(runtime, tenant, ["approve_templates"])
    assert body["submittedAt"] <= body["reviewedAt"]


def test_reject_needs_a_reason_and_records_it(client: FlaskClient, created, author, reviewer):
    act(client, "submit", author)

    missing = client.post(f"{URL}/{KEY}/reject", json={}, headers=reviewer)
    rejected = act(client, "reject", reviewer, reason="Wrong brand colours.")

    assert missing.status_code == 400
    assert missing.get_json()["errors"][0]["field"] == "reason"
    body = rejected.get_json()
    assert (rejected.status_code, body["status"]) == (200, "rejected")
    assert body["rejectionReason"] == "Wrong brand colours." and body["reviewedBy"]
    assert body["approvedVersion"] is None


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ([], "approve"),
        ([], "reject"),
        (["submit"], "submit"),
        (["submit", "approve"], "approve"),
        (["submit", "approve"], "submit"),
        (["submit", "approve"], "reject"),
        (["submit", "reject"], "approve"),
        (["submit", "reject"], "submit"),
    ],
)
def test_any_other_transition_is_409_invalid_transition(
    client: FlaskClient, tenant: Tenant, created, steps: list[str], refused: str
):
    for step in steps:
        assert act(client, step, tenant.headers()).status_code == 200

    response = act(client, refused, tenant.headers())

    assert response.status_code == 409
    assert code(response) == "ERR_INVALID_TRANSITION"


@pytest.mark.parametrize(
    ("scopes", "action", "allowed"),
    [
        (["manage_templates"], "submit", True),
        (["manage_templates"], "approve", False),
        (["manage_templates"], "reject", False),
        (["approve_templates"], "submit", False),
        (["approve_templates", "read"], "approve", True),
        (["approve_templates"], "reject", True),
        (["read", "send_notifications"], "submit", False),
    ],
)
def test_each_transition_needs_its_scope(
    client: FlaskClient,
    runtime: Runtime,
    tenant: Tenant,
    created,
    scopes: list[str],
    action: str,
    allowed: bool,
):
    if action != "submit":
        act(client, "submit", tenant.headers())
    headers = bearer(make_key(runtime, tenant, scopes))

    response = act(client, action, headers)

    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert code(response) == "forbidden"


def test_writes_need_manage_templates_and_reads_need_read(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, created
):
    reader = bearer(make_key(runtime, tenant, ["read"]))
    approver = bearer(make_key(runtime, tenant, ["approve_templates"]))

    assert client.get(f"{URL}/{KEY}", headers=reader).status_code == 200
    assert client.get(f"{URL}/{KEY}/versions", headers=reader).status_code == 200
    assert client.post(URL, json=template_document(key="x"), headers=reader).status_code == 403
    assert client.put(f"{URL}/{KEY}", json=template_document(), headers=reader).status_code == 403
    assert client.delete(f"{URL}/{KEY}", headers=approver).status_code == 403
    assert client.get(URL, headers=approver).status_code == 403


def test_sends_use_the_approved_version_until_a_newer_one_is_approved(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, created, author, reviewer
):
    act(client, "submit", author)
    act(client, "approve", reviewer)
    client.put(f"{URL}/{KEY}", json=template_document(name="v2"), headers=author)

    def sendable() -> tuple[int, str]:
        with runtime.database.transaction() as session:
            version = service.sendable_version(session, app_id=tenant.app_id, key=KEY)
            return version.version, version.name

    assert sendable() == (1, "Order confirmation")
    act(client, "submit", author)
    assert sendable() == (1, "Order confirmation")
    shown = client.get(f"{URL}/{KEY}", headers=tenant.headers()).get_json()
    assert (shown["version"], shown["status"], shown["approvedVersion"]) == (2, "pending", 1)
    act(client, "approve", reviewer)
    assert sendable() == (2, "v2")


def test_an_older_pending_version_can_be_named_and_never_replaces_a_newer_approval(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, created
):
    headers = tenant.headers()
    act(client, "submit", headers)
    client.put(f"{URL}/{KEY}", json=template_document(name="v2"), headers=headers)
    act(client, "submit", headers)
    act(client, "approve", headers)

    response = act(client, "approve", headers, version=1)

    assert (response.status_code, response.get_json()["version"]) == (200, 1)
    assert response.get_json()["approvedVersion"] == 2


def test_a_version_beyond_any_stored_one_is_a_validation_error(
    client: FlaskClient, tenant: Tenant, created
):
    response = act(client, "submit", tenant.headers(), version=10**20)

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "version"


def test_a_template_never_approved_is_not_sendable(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, created
):
    act(client, "submit", tenant.headers())

    with runtime.database.transaction() as session, pytest.raises(TemplateNotApproved) as raised:
        service.sendable_version(session, app_id=tenant.app_id, template_id=created["id"])

    [problem] = raised.value.details
    assert (problem.code, problem.field) == ("ERR_TEMPLATE_NOT_APPROVED", "template.id")
    assert raised.value.status == 422


def test_sendable_version_finds_templates_by_id_in_their_own_app_only(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, other_tenant: Tenant, created
):
    act(client, "submit", tenant.headers())
    act(client, "approve", tenant.headers())

    with runtime.database.transaction() as session:
        found = service.sendable_version(session, app_id=tenant.app_id, template_id=created["id"])
        assert (found.template.key, found.channel_names) == (KEY, ["in_app", "email", "push"])
        with pytest.raises(TemplateNotFound):
            service.sendable_version(session, app_id=other_tenant.app_id, key=KEY)
        with pytest.raises(TemplateNotFound):
            service.sendable_version(session, app_id=tenant.app_id, key="unknown")


def test_an_oauth2_token_is_recorded_as_oauth2(client: FlaskClient, tenant: Tenant, created):
    secret = "an-hs256-secret-of-32-characters"
    config = {"issuer": "https://id.shop.test", "audience": "herald", "hs256Secret": secret}
    client.patch("/api/apps/current", json={"oauth2": config}, headers=tenant.headers())
    claims = {
        "iss": config["issuer"],
        "aud": "herald",
        "exp": int(time.time()) + 60,
        "app_id": tenant.app_id,
        "scope": "manage_templates read",
    }
    token = jwt.encode(claims, secret, algorithm="HS256")

    response = act(client, "submit", bearer(token))

    assert response.status_code == 200
    assert response.get_json()["submittedBy"] == "oauth2"


def test_the_sendable_version_keeps_its_template_after_the_session_ends(
    client: FlaskClient, runtime: Runtime, tenant: Tenant, created
):
    act(client, "submit", tenant.headers())
    act(client, "approve", tenant.headers())

    with runtime.database.transaction() as session:
        version = service.sendable_version(session, app_id=tenant.app_id, key=KEY)

    assert (version.template.key, version.template.id) == (KEY, created["id"])
