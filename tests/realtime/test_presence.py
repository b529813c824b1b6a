"""Presence and routing scripts on the real Redis, without web processes.

A "process" here is just an id with a channel this test subscribes to, the way a hub does.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from app.realtime import presence
from app.realtime.announcer import PresenceAnnouncer
from app.realtime.presence import PresenceKeys
from tests.support import services
from tests.support.sinks import wait_until

TTL = 5.0


@pytest.fixture
def redis() -> Iterator[Redis]:
    client = Redis.from_url(services.redis_url())
    yield client
    client.close()


@pytest.fixture
def keys(redis: Redis) -> Iterator[PresenceKeys]:
    prefix = f"herald-test-presence-{uuid.uuid4().hex[:8]}:rt:"
    yield PresenceKeys(prefix + "presence:", prefix + "processes", prefix + "process:")
    stale = list(redis.scan_iter(match=prefix + "*"))
    if stale:
        redis.delete(*stale)


def connect(redis: Redis, keys: PresenceKeys, process: str, user: str, n: int = 1) -> None:
    """`n` sockets of `user` on `process`."""
    presence.write_counts(redis, keys, process_id=process, counts={("app", user): n})


def route_hello(redis: Redis, keys: PresenceKeys, users: list[str]) -> int:
    reached = presence.route(redis, keys, ttl=TTL, app_id="app", batches=[("hello", users)])
    return reached


def test_route_counts_every_socket_of_every_live_process(redis: Redis, keys: PresenceKeys):
    for process in ("p1", "p2"):
        presence.heartbeat(redis, keys, process)
    connect(redis, keys, "p1", "u1", 2)
    connect(redis, keys, "p2", "u1")
    connect(redis, keys, "p2", "u2")

    assert route_hello(redis, keys, ["u1", "u2", "u3"]) == 4


def test_route_publishes_each_process_only_its_own_users(redis: Redis, keys: PresenceKeys):
    for process in ("p1", "p2"):
        presence.heartbeat(redis, keys, process)
    connect(redis, keys, "p1", "u1")
    connect(redis, keys, "p2", "u2")
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.channel("p1"))
    pubsub.get_message(timeout=1)  # the subscription confirmation

    presence.route(
        redis, keys, ttl=TTL, app_id="app", batches=[("f1", ["u1", "u2"]), ("f2", ["u2"])]
    )

    message = pubsub.get_message(timeout=2)
    pubsub.close()
    assert presence.parse_routed(message["data"]) == ("app", [("f1", ["u1"])])


def test_route_leaves_out_the_caller_that_wrote_to_its_own_sockets(
    redis: Redis, keys: PresenceKeys
):
    for process in ("caller", "other"):
        presence.heartbeat(redis, keys, process)
    connect(redis, keys, "caller", "u1")
    connect(redis, keys, "other", "u1")
    connect(redis, keys, "other", "u2")
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.channel("caller"), keys.channel("other"))
    for _ in range(2):
        pubsub.get_message(timeout=1)  # the subscription confirmations

    reached = presence.route(
        redis, keys, ttl=TTL, app_id="app", batches=[("f", ["u1", "u2"])], leave_out="caller"
    )

    published = [pubsub.get_message(timeout=1) for _ in range(2)]
    pubsub.close()
    assert reached == 2  # the other process's two sockets; the caller counts its own
    assert [m["channel"] for m in published if m] == [keys.channel("other").encode()]
    assert presence.parse_routed(published[0]["data"]) == ("app", [("f", ["u1", "u2"])])


def test_a_process_without_a_fresh_heartbeat_does_not_count(redis: Redis, keys: PresenceKeys):
    presence.heartbeat(redis, keys, "alive")
    redis.zadd(keys.processes, {"dead": 1.0})  # last beat in 1970
    connect(redis, keys, "alive", "u1")
    connect(redis, keys, "dead", "u1", 5)

    assert route_hello(redis, keys, ["u1"]) == 1


def test_reaping_removes_a_dead_process_and_all_its_presence(redis: Redis, keys: PresenceKeys):
    presence.heartbeat(redis, keys, "alive")
    redis.zadd(keys.processes, {"dead": 1.0})
    connect(redis, keys, "alive", "u1")
    connect(redis, keys, "dead", "u1")
    connect(redis, keys, "dead", "u2")

    assert presence.reap_dead_processes(redis, keys, ttl=TTL) == 1

    assert redis.hgetall(keys.presence("app", "u1")) == {b"alive": b"1"}
    assert not redis.exists(keys.presence("app", "u2"), keys.held("dead"))
    assert redis.zrange(keys.processes, 0, -1) == [b"alive"]


def test_the_last_socket_leaving_removes_the_presence_field(redis: Redis, keys: PresenceKeys):
    connect(redis, keys, "p1", "u1")
    presence.write_counts(redis, keys, process_id="p1", counts={("app", "u1"): 0})

    assert not redis.exists(keys.presence("app", "u1"))
    assert redis.smembers(keys.held("p1")) == set()


def test_heartbeat_tells_when_redis_had_forgotten_the_process(redis: Redis, keys: PresenceKeys):
    assert presence.heartbeat(redis, keys, "p1") is True
    assert presence.heartbeat(redis, keys, "p1") is False
    presence.remove_process(redis, keys, process_id="p1")
    assert presence.heartbeat(redis, keys, "p1") is True


def test_a_count_written_twice_is_still_the_count(redis: Redis, keys: PresenceKeys):
    presence.heartbeat(redis, keys, "p1")
    for _ in range(2):  # a write retried after its reply was lost
        presence.write_counts(redis, keys, process_id="p1", counts={("app", "u1"): 3})

    assert route_hello(redis, keys, ["u1"]) == 3


def test_routing_to_nobody_publishes_nothing(redis: Redis, keys: PresenceKeys):
    assert route_hello(redis, keys, []) == 0
    assert route_hello(redis, keys, ["offline"]) == 0


def test_many_counts_are_written_in_one_call(redis: Redis, keys: PresenceKeys):
    presence.heartbeat(redis, keys, "p1")
    counts = {("app", "u1"): 2, ("app", "u2"): 1, ("app", "u3"): 1}
    presence.write_counts(redis, keys, process_id="p1", counts=counts)
    presence.write_counts(redis, keys, process_id="p1", counts={("app", "u3"): 0})

    assert route_hello(redis, keys, ["u1", "u2", "u3"]) == 3
    assert redis.smembers(keys.held("p1")) == {
        keys.presence("app", "u1").encode(),
        keys.presence("app", "u2").encode(),
    }


class LosesFirstReply(Redis):
    """A client whose first script call reaches Redis but whose reply is lost on the way back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0
        self.replies = 0  # calls whose reply came back

    def evalsha(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        result = super().evalsha(*args, **kwargs)
        if self.calls == 1:
            raise RedisConnectionError("reply lost")
        self.replies += 1
        return result


def test_the_announcer_rewrites_a_count_whose_reply_was_lost_without_counting_it_twice(
    redis: Redis, keys: PresenceKeys
):
    flaky = LosesFirstReply(connection_pool=redis.connection_pool)
    announcer = PresenceAnnouncer(flaky, keys, "p1")
    writer = threading.Thread(target=announcer.run, daemon=True)
    writer.start()

    announcer.change(("app", "u1"), +1, wait=True)
    wait_until(lambda: flaky.replies >= 1)  # the retry, with no further change to prompt it
    retried = redis.hgetall(keys.presence("app", "u1"))
    announcer.stop()
    writer.join(timeout=5)

    assert retried == {b"p1": b"1"}
