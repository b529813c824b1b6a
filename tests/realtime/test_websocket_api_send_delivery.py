"""Seed 000's `POST /send` against a real web process with real WebSocket clients.

To show a socket did *not* get a message, a marker is sent to it afterwards: frames reach one
socket in order, so the marker must be the next frame it reads.
"""

from __future__ import annotations

from datetime import datetime

import websocket

from app.runtime import Runtime
from tests.support.factories import Tenant, make_tenant
from tests.support.processes import RunningProcess
from tests.support.realtime import Sockets, call, next_event, poll, send

SEED_REQUEST = {
    "to": [{"type": "user", "id": "1"}, {"type": "group", "id": ["1", "8"]}],
    "type": "alert",
    "message": "Server-side push",
    "data": {"priority": "high"},
}


def put_group(web: RunningProcess, tenant: Tenant, group_id: str, members: list[str]) -> None:
    status, body = call(
        web.base_url, "PUT", f"/api/groups/{group_id}", tenant.headers(), {"members": members}
    )
    assert status == 200, body


def send_marker(web: RunningProcess, tenant: Tenant, user_ids: list[str]) -> None:
    send(web.base_url, tenant, {"to": [{"type": "user", "id": user_ids}], "message": "marker"})


def messages_until_marker(ws: websocket.WebSocket) -> list[str]:
    """The `message` texts a socket reads before the marker."""
    seen = []
    while (frame := next_event(ws))["data"]["message"] != "marker":
        seen.append(frame["data"]["message"])
    return seen


def test_the_seed_example_counts_a_socket_reached_through_several_targets_once(
    web: RunningProcess, acme: Tenant, clients: Sockets
):
    put_group(web, acme, "1", ["1", "2"])
    put_group(web, acme, "8", ["2", "3"])
    sockets_by_user = {user: clients.connect(web.base_url, acme, user) for user in "1234"}

    answer = send(web.base_url, acme, SEED_REQUEST)
    send_marker(web, acme, list("1234"))

    assert answer["delivered"] == 3
    received = {user: messages_until_marker(ws) for user, ws in sockets_by_user.items()}
    assert received == {
        "1": ["Server-side push"],
        "2": ["Server-side push"],
        "3": ["Server-side push"],
        "4": [],
    }


def test_the_message_frame_carries_the_documented_fields(
    web: RunningProcess, acme: Tenant, clients: Sockets
):
    ws = clients.connect(web.base_url, acme, "1")
    send(web.base_url, acme, {**SEED_REQUEST, "data": '{"priority": "high"}'})

    frame = next_event(ws)

    assert frame["event"] == "message"
    data = frame["data"]
    assert set(data) == {"id", "tenantId", "type", "message", "data", "sentAt"}
    assert (data["tenantId"], data["type"], data["message"], data["data"]) == (
        acme.app_id,
        "alert",
        "Server-side push",
        '{"priority":"high"}',
    )
    assert datetime.fromisoformat(data["sentAt"]).tzinfo is not None


def test_every_socket_of_a_user_receives_and_counts(
    web: RunningProcess, acme: Tenant, clients: Sockets
):
    tabs = [clients.connect(web.base_url, acme, "7") for _ in range(3)]

    answer = send(web.base_url, acme, {"to": [{"type": "user", "id": "7"}], "message": "hello"})

    assert answer["delivered"] == 3
    assert [next_event(ws)["data"]["message"] for ws in tabs] == ["hello"] * 3


def test_sockets_of_another_app_never_receive_or_count(
    web: RunningProcess, acme: Tenant, pg_runtime: Runtime, clients: Sockets
):
    globex = make_tenant(pg_runtime, "globex")
    put_group(web, globex, "1", ["1"])
    theirs = clients.connect(web.base_url, globex, "1")
    ours = clients.connect(web.base_url, acme, "1")

    answer = send(web.base_url, acme, SEED_REQUEST)
    send_marker(web, globex, ["1"])

    assert answer["delivered"] == 1
    assert next_event(ours)["data"]["message"] == "Server-side push"
    assert messages_until_marker(theirs) == []


def test_an_unknown_or_empty_group_reaches_nobody(
    web: RunningProcess, acme: Tenant, clients: Sockets
):
    put_group(web, acme, "empty", [])
    clients.connect(web.base_url, acme, "1")

    answer = send(web.base_url, acme, {"to": [{"type": "group", "id": ["empty", "missing"]}]})

    assert answer["delivered"] == 0


def test_offline_users_get_nothing_and_count_nothing(web: RunningProcess, acme: Tenant):
    answer = send(web.base_url, acme, {"to": [{"type": "user", "id": ["1", "never-seen"]}]})
    assert answer["delivered"] == 0


def test_a_closed_socket_stops_counting(web: RunningProcess, acme: Tenant, clients: Sockets):
    ws = clients.connect(web.base_url, acme, "1")
    body = {"to": [{"type": "user", "id": "1"}]}
    assert send(web.base_url, acme, body)["delivered"] == 1

    ws.close()

    poll(lambda: send(web.base_url, acme, body)["delivered"] == 0)


def test_a_member_added_to_a_group_is_reached_at_once(
    web: RunningProcess, acme: Tenant, clients: Sockets
):
    put_group(web, acme, "ops", ["1"])
    newcomer = clients.connect(web.base_url, acme, "2")
    status, _ = call(web.base_url, "POST", "/api/groups/ops/members/2", acme.headers())
    assert status == 201

    answer = send(web.base_url, acme, {"to": [{"type": "group", "id": "ops"}], "message": "hi"})

    assert answer["delivered"] == 1
    assert next_event(newcomer)["data"]["message"] == "hi"


def test_users_connected_by_email_are_reached_by_their_email(
    web: RunningProcess, acme: Tenant, clients: Sockets
):
    from app.security import user_hmac

    email = "jane@example.com"
    ws = clients.connect(
        web.base_url, acme, None, user_email=email, user_hmac=user_hmac(acme.secret, email)
    )

    answer = send(web.base_url, acme, {"to": [{"type": "user", "id": email}], "message": "hi"})

    assert answer["delivered"] == 1
    assert next_event(ws)["data"]["message"] == "hi"


def test_a_large_message_arrives_whole(web: RunningProcess, acme: Tenant, clients: Sockets):
    ws = clients.connect(web.base_url, acme, "1")
    text = "é" * 150_000  # a 300 KB frame: 64-bit length, several writes

    send(web.base_url, acme, {"to": [{"type": "user", "id": "1"}], "message": text})

    assert next_event(ws)["data"]["message"] == text
