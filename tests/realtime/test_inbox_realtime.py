"""Every inbox change reaches the user's open sockets in the same request, with the counts a
fresh `GET /notifications` gives; nobody else's sockets hear of it. A real web process, real
WebSocket clients, and a real worker for broadcasts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dramatiq
import pytest
import websocket

from app.composition import Process
from app.realtime.publisher import publish_to_users
from app.runtime import Runtime
from tests.support.factories import Tenant
from tests.support.inbox import disposable_tenants, put_in_inbox
from tests.support.processes import RunningProcess
from tests.support.realtime import Sockets, call, next_event
from tests.support.recipients import herald_id


@pytest.fixture
def make(pg_runtime: Runtime) -> Iterator[Callable[..., Tenant]]:
    with disposable_tenants(pg_runtime) as make_tenant:
        yield make_tenant


@pytest.fixture
def pg_worker(pg_process: Process) -> Iterator[dramatiq.Worker]:
    """A real Dramatiq worker in this process, on the web process's database."""
    broker = pg_process.broker
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    yield worker
    worker.stop()
    broker.middleware[:] = [
        m for m in broker.middleware if getattr(m, "worker", None) is not worker
    ]


def counts(web: RunningProcess, tenant: Tenant, user: str) -> dict[str, int]:
    status, body = call(web.base_url, "GET", "/notifications", tenant.user_headers(user))
    assert status == 200, body
    return {"unread_count": body["unread_count"], "unseen_count": body["unseen_count"]}


def quiet(runtime: Runtime, tenant: Tenant, user: str, ws: websocket.WebSocket) -> None:
    """Nothing but our fence reached this socket: frames arrive in the order they were sent."""
    user_id = herald_id(runtime, tenant, user)
    publish_to_users(runtime, app_id=tenant.app_id, user_ids=[user_id], event="fence", data={})
    assert next_event(ws) == {"event": "fence", "data": {}}


def test_each_change_reaches_the_users_sockets_with_fresh_counts(
    web: RunningProcess,
    pg_runtime: Runtime,
    make: Callable[..., Tenant],
    clients: Sockets,
):
    acme, globex = make("acme"), make("globex")
    first, second, third = (
        put_in_inbox(pg_runtime, acme, "u1", category=c, minutes_ago=m)
        for c, m in (("billing", 3), ("orders", 2), ("orders", 1))
    )
    put_in_inbox(pg_runtime, acme, "u2")
    mine = [clients.connect(web.base_url, acme, "u1") for _ in range(2)]
    neighbour = clients.connect(web.base_url, acme, "u2")
    elsewhere = clients.connect(web.base_url, globex, "u1")
    steps: list[tuple[str, str, str, str | set[str]]] = [
        ("POST", f"/notifications/{first}/read", "notification.read", first),
        ("POST", f"/notifications/{first}/unread", "notification.unread", first),
        ("POST", f"/notifications/{second}/archive", "notification.archived", second),
        ("POST", f"/notifications/{second}/unarchive", "notification.unarchived", second),
        (
            "POST",
            "/notifications/seen?categories=orders",
            "notifications.seen_all",
            {second, third},
        ),
        ("POST", "/notifications/read", "notifications.read_all", {first, second, third}),
        ("DELETE", f"/notifications/{third}", "notification.deleted", third),
    ]

    for method, path, event, changed in steps:
        status, _ = call(web.base_url, method, path, acme.user_headers("u1"))
        assert status == 204, path
        fresh = counts(web, acme, "u1")
        for ws in mine:
            frame = next_event(ws)
            data = frame["data"]
            named = set(data["ids"]) if isinstance(changed, set) else data["id"]
            assert (frame["event"], named) == (event, changed)
            assert {
                "unread_count": data["unread_count"],
                "unseen_count": data["unseen_count"],
            } == fresh

    quiet(pg_runtime, acme, "u2", neighbour)
    quiet(pg_runtime, globex, "u1", elsewhere)
    assert counts(web, acme, "u2") == {"unread_count": 1, "unseen_count": 1}


def test_refused_changes_publish_nothing(
    web: RunningProcess, pg_runtime: Runtime, make: Callable[..., Tenant], clients: Sockets
):
    acme = make("acme")
    theirs = put_in_inbox(pg_runtime, acme, "u2")
    ws = clients.connect(web.base_url, acme, "u1")
    owner = clients.connect(web.base_url, acme, "u2")

    status, _ = call(web.base_url, "POST", f"/notifications/{theirs}/read", acme.user_headers("u1"))

    assert status == 404
    quiet(pg_runtime, acme, "u1", ws)
    quiet(pg_runtime, acme, "u2", owner)


def test_a_broadcast_appears_live_in_the_inbox_as_the_api_shows_it(
    web: RunningProcess,
    pg_runtime: Runtime,
    make: Callable[..., Tenant],
    clients: Sockets,
    pg_worker: dramatiq.Worker,
):
    acme = make("acme")
    ws = clients.connect(web.base_url, acme, "u1")
    body = {"broadcast": {"title": "Live", "content": "Now", "recipients": [{"external_id": "u1"}]}}

    status, created = call(web.base_url, "POST", "/broadcasts", acme.headers(), body)
    frame = next_event(ws)

    assert status == 201, created
    assert frame["event"] == "notification.new"
    status, shown = call(
        web.base_url, "GET", f"/notifications/{frame['data']['id']}", acme.user_headers("u1")
    )
    assert status == 200
    assert shown["notification"] == frame["data"]
    assert (frame["data"]["title"], frame["data"]["content"]) == ("Live", "Now")
