"""`Idempotency-Key` on broadcasts and inbox actions: replay, conflicting and concurrent reuse."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.broadcasts import service
from app.idempotency.models import IdempotencyRecord
from app.orm import utcnow
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.inbox import put_in_inbox
from workers.actors import Actors
from workers.reconciler import reconcile_once

BROADCAST = {"broadcast": {"title": "Once", "recipients": [{"external_id": "u1"}]}}


def keyed(tenant: Tenant, key: str) -> dict[str, str]:
    return {**tenant.headers(), "Idempotency-Key": key}


def broadcast_count(client: FlaskClient, tenant: Tenant) -> int:
    return client.get("/broadcasts", headers=tenant.headers()).get_json()["total"]


def error_code(response: Any) -> str:
    return response.get_json()["errors"][0]["code"]


def test_a_retried_broadcast_replays_the_first_response_and_creates_nothing(
    client: FlaskClient, tenant: Tenant
):
    first = client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, "k-1"))
    again = client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, "k-1"))

    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert broadcast_count(client, tenant) == 1


def test_the_same_key_for_another_request_is_409_reused(client: FlaskClient, tenant: Tenant):
    client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, "k-2"))
    other_body = {"broadcast": {**BROADCAST["broadcast"], "title": "Twice"}}

    different_body = client.post("/broadcasts", json=other_body, headers=keyed(tenant, "k-2"))
    different_path = client.post("/notifications", json=BROADCAST, headers=keyed(tenant, "k-2"))

    assert different_body.status_code == different_path.status_code == 409
    assert error_code(different_body) == error_code(different_path) == "idempotency_key_reused"
    assert broadcast_count(client, tenant) == 1


def test_keys_are_per_app(client: FlaskClient, tenant: Tenant, other_tenant: Tenant):
    client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, "shared"))

    theirs = client.post("/broadcasts", json=BROADCAST, headers=keyed(other_tenant, "shared"))

    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert broadcast_count(client, other_tenant) == 1


def test_a_refusal_is_the_stored_response_and_a_corrected_body_needs_a_new_key(
    client: FlaskClient, tenant: Tenant
):
    bad = {"broadcast": {"title": ""}}
    refused = client.post("/broadcasts", json=bad, headers=keyed(tenant, "k-3"))

    replayed = client.post("/broadcasts", json=bad, headers=keyed(tenant, "k-3"))
    reused = client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, "k-3"))
    fresh = client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, "k-4"))

    assert (replayed.status_code, replayed.get_json()) == (422, refused.get_json())
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert reused.status_code == 409
    assert fresh.status_code == 201


def test_an_overlong_key_is_refused(client: FlaskClient, tenant: Tenant):
    response = client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, "k" * 256))

    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"


def test_two_concurrent_requests_with_one_key_never_both_run(
    app: Flask, client: FlaskClient, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
):
    inside, release = threading.Event(), threading.Event()
    accept = service.accept_broadcast

    def held_open(*args: Any, **kwargs: Any) -> Any:
        inside.set()
        assert release.wait(20)
        return accept(*args, **kwargs)

    monkeypatch.setattr(service, "accept_broadcast", held_open)
    headers = keyed(tenant, "k-race")
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(app.test_client().post, "/broadcasts", json=BROADCAST, headers=headers)
        assert inside.wait(20)
        while_running = client.post("/broadcasts", json=BROADCAST, headers=headers)
        release.set()
        finished = first.result(timeout=30)
    replayed = client.post("/broadcasts", json=BROADCAST, headers=headers)

    assert (while_running.status_code, error_code(while_running)) == (
        409,
        "idempotency_key_in_progress",
    )
    assert finished.status_code == replayed.status_code == 201
    assert replayed.get_json() == finished.get_json()
    assert broadcast_count(client, tenant) == 1


def test_inbox_actions_replay_their_204_and_keys_are_per_user(
    client: FlaskClient, runtime: Runtime, tenant: Tenant
):
    mine = put_in_inbox(runtime, tenant, "u1")
    theirs = put_in_inbox(runtime, tenant, "u2")

    def delete(user: str, id_: str) -> Any:
        headers = {**tenant.user_headers(user), "Idempotency-Key": "del-1"}
        return client.delete(f"/notifications/{id_}", headers=headers)

    first, retried = delete("u1", mine), delete("u1", mine)
    neighbour = delete("u2", theirs)

    assert (first.status_code, retried.status_code) == (204, 204)
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert neighbour.status_code == 204 and "Idempotent-Replayed" not in neighbour.headers
    for user in ("u1", "u2"):
        inbox = client.get("/notifications", headers=tenant.user_headers(user)).get_json()
        assert inbox["total"] == 0


def test_the_reconciler_forgets_keys_past_their_24_hour_window(
    client: FlaskClient, tenant: Tenant, runtime: Runtime, actors: Actors
):
    for key in ("old", "recent"):
        response = client.post("/broadcasts", json=BROADCAST, headers=keyed(tenant, key))
        assert response.status_code == 201
    with runtime.database.transaction() as session:
        session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.key == "old")
            .values(created_at=utcnow() - timedelta(hours=25))
        )

    reconciled = reconcile_once(runtime, actors)

    assert reconciled.expired_idempotency_records == 1
    with runtime.database.transaction() as session:
        assert session.scalars(select(IdempotencyRecord.key)).all() == ["recent"]
