"""Broadcasts posted through the API, and waiting until a worker has processed them."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.support.factories import Tenant
from tests.support.sinks import wait_until


def post_broadcast(client: FlaskClient, tenant: Tenant, **fields) -> dict:
    body = {"broadcast": {"title": "Launch day", **fields}}
    response = client.post("/broadcasts", json=body, headers=tenant.headers())
    assert response.status_code == 201, response.get_json()
    return response.get_json()["broadcast"]


def processed(client: FlaskClient, tenant: Tenant, broadcast_id: str) -> dict:
    def done() -> dict | None:
        view = client.get(f"/broadcasts/{broadcast_id}", headers=tenant.headers()).get_json()
        return view["broadcast"] if view["broadcast"]["status"]["status"] == "processed" else None

    return wait_until(done, timeout=60, interval=0.2)
