"""A hub in this process (real threads, real Redis): routing, resilience and self-repair.

Connections here have no WebSocket yet, so frames stay in their outbox where the test reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from app.realtime import presence
from app.realtime.connection import Connection
from app.realtime.hub import Hub
from app.realtime.publisher import deliver_to_users
from app.runtime import Runtime
from tests.support.realtime import poll, runtime_for


@pytest.fixture
def fast_runtime(sqlite_url: str) -> Iterator[Runtime]:
    runtime = runtime_for(sqlite_url)
    # Beats every 0.2 s, so repairs happen within the test's patience.
    runtime.settings = replace(runtime.settings, realtime_presence_ttl_s=0.6)
    yield runtime
    runtime.close()


@pytest.fixture
def hub(fast_runtime: Runtime) -> Iterator[Hub]:
    hub = Hub(fast_runtime)
    hub.start()
    yield hub
    hub.close()


def send_hello(runtime: Runtime, user_ids: list[str]) -> int:
    return deliver_to_users(runtime, app_id="app", user_ids=user_ids, event="hello", data={})


def test_a_routed_frame_lands_in_the_outbox_of_each_socket_of_the_user(
    hub: Hub, fast_runtime: Runtime
):
    tabs = [Connection(app_id="app", user_id="u1") for _ in range(2)]
    other = Connection(app_id="app", user_id="u2")
    for conn in [*tabs, other]:
        hub.attach(conn)

    assert send_hello(fast_runtime, ["u1"]) == 2

    poll(lambda: all(conn.outbox for conn in tabs))
    assert [len(conn.outbox) for conn in tabs] == [1, 1]
    assert tabs[0].outbox[0].endswith(b'{"event":"hello","data":{}}')
    assert send_hello(fast_runtime, ["u2"]) == 1  # a later frame for u2 arrives, the first not
    poll(lambda: other.outbox)
    assert len(other.outbox) == 1


def test_a_malformed_message_does_not_stop_delivery(hub: Hub, fast_runtime: Runtime):
    conn = Connection(app_id="app", user_id="u1")
    hub.attach(conn)

    fast_runtime.redis.publish(hub.keys.channel(hub.process_id), b"\xff\xfe not a routed message")
    send_hello(fast_runtime, ["u1"])

    poll(lambda: conn.outbox)


def test_a_detached_socket_stops_counting(hub: Hub, fast_runtime: Runtime):
    conn = Connection(app_id="app", user_id="u1")
    hub.attach(conn)
    hub.detach(conn)

    poll(lambda: send_hello(fast_runtime, ["u1"]) == 0)


@pytest.fixture
def other_process(sqlite_url: str) -> Iterator[Runtime]:
    """A sender without sockets: it counts this hub's through Redis, as another process does."""
    runtime = runtime_for(sqlite_url)
    yield runtime
    runtime.close()


def test_presence_comes_back_after_redis_forgot_the_process(
    hub: Hub, fast_runtime: Runtime, other_process: Runtime
):
    hub.attach(Connection(app_id="app", user_id="u1"))
    assert send_hello(other_process, ["u1"]) == 1

    presence.remove_process(fast_runtime.redis, hub.keys, process_id=hub.process_id)
    assert send_hello(other_process, ["u1"]) == 0

    poll(lambda: send_hello(other_process, ["u1"]) == 1)


def test_a_send_writes_to_its_own_processs_sockets_before_reaching_redis(
    hub: Hub, fast_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    conn = Connection(app_id="app", user_id="u1")
    hub.attach(conn)
    outbox_when_routing = []

    def route(*args, **kwargs):
        outbox_when_routing.append(len(conn.outbox))
        return 0

    monkeypatch.setattr("app.realtime.publisher.route", route)

    assert send_hello(fast_runtime, ["u1", "u1"]) == 1  # named twice, one socket, counted once
    assert outbox_when_routing == [1]


def test_shutdown_asks_every_socket_to_close_with_going_away(hub: Hub):
    conns = [Connection(app_id="app", user_id=f"u{i}") for i in range(3)]
    for conn in conns:
        hub.attach(conn)

    hub.shutdown()

    assert [conn.closing for conn in conns] == [(1001, "Server restarting")] * 3
