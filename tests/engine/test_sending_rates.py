"""Sending rates shared by every worker process: the relay's (SMTP_MAX_PER_SECOND) and each
app's (`emailPerSecond`), one Redis script deciding for all of them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from dramatiq import Message
from flask.testing import FlaskClient
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import update

from app.config import Settings
from app.engine.models import Delivery
from app.engine.throttle import GO, Decision, Lane, SendingRates
from app.orm import utcnow
from app.runtime import Runtime
from tests.support.factories import Tenant, approved_template
from tests.support.pipeline import batch, deliveries, fan_out_now, finished, people, realtime
from tests.support.processes import free_port
from tests.support.rates import PinnedClock, positions, sending_rates
from tests.support.sinks import SmtpSink, wait_until
from workers.actors import Actors
from workers.reconciler import reconcile_once

UseRates = Callable[..., SendingRates]


@pytest.fixture(scope="module")
def redis_client(settings: Settings) -> Iterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    client.close()


@pytest.fixture
def clock() -> PinnedClock:
    return PinnedClock()


@pytest.fixture
def limits(redis_client: Redis, settings: Settings, clock: PinnedClock) -> UseRates:
    def make(relay_per_second: int | None) -> SendingRates:
        return sending_rates(redis_client, settings.redis_prefix, relay_per_second, clock)

    return make


@pytest.fixture
def use_rates(runtime: Runtime) -> Iterator[UseRates]:
    """Run this test's email tasks under limits of its own (on a pinned clock, if given)."""
    original = runtime.sending_rates

    def use(relay_per_second: int | None, clock: PinnedClock | None = None) -> SendingRates:
        prefix = runtime.settings.redis_prefix
        runtime.sending_rates = sending_rates(runtime.redis, prefix, relay_per_second, clock)
        return runtime.sending_rates

    yield use
    runtime.sending_rates = original


@pytest.fixture
def template(client: FlaskClient, tenant: Tenant) -> dict:
    return approved_template(client, tenant)


@pytest.fixture
def sending_here(runtime: Runtime) -> Iterator[None]:
    """The test sends from its own thread, as a worker thread does; its SMTP connection is
    closed afterwards, as a worker's middleware closes its threads' connections."""
    yield
    runtime.senders.close_thread_connections()


@pytest.fixture
def one_a_second(
    template: dict, use_rates: UseRates, clock: PinnedClock, sending_here: None
) -> PinnedClock:
    """The order template's emails sent here, in the test's thread, under a relay limit of one
    a second on the pinned clock (returned)."""
    use_rates(1, clock)
    return clock


def batch_send(rates: SendingRates, app: str = "a", rate: int | None = None, turns: int = 0):
    return rates.take(app_id=app, app_per_second=rate, lane=Lane.BATCH, turns=turns)


def realtime_send(rates: SendingRates, app: str = "a", rate: int | None = None) -> Decision:
    return rates.take(app_id=app, app_per_second=rate, lane=Lane.REALTIME)


def test_a_limit_grants_its_rate_and_gives_each_waiting_send_its_turn(
    limits: UseRates, clock: PinnedClock
):
    relay = limits(10)  # one send every 100 ms, batch sends up to 100 ms ahead

    first = [batch_send(relay) for _ in range(4)]
    clock.advance(ms=200)
    third_again = batch_send(relay, turns=1)
    latecomer = batch_send(relay)

    assert first == [GO, GO, Decision(200, 1), Decision(300, 1)]
    assert third_again == GO  # its turn came: it passes the line
    assert latecomer == Decision(200, 1)  # behind the fourth, whose turn is in 100 ms


def test_a_send_refused_by_the_relay_spends_none_of_its_apps_share(
    limits: UseRates, clock: PinnedClock
):
    relay = limits(10)
    assert [batch_send(relay, app="b") for _ in range(2)] == [GO, GO]  # the relay is busy

    refused = batch_send(relay, app="a", rate=1)
    clock.advance(ms=refused.wait_ms)
    again = batch_send(relay, app="a", rate=1, turns=refused.turns)

    assert refused == Decision(200, 2)  # in the relay's line: the app's limit was passed
    assert again == GO  # a spent share of one a second would have refused it for a second


def test_a_send_held_back_by_its_app_takes_no_place_in_the_relays_line(limits: UseRates):
    relay = limits(10)

    held_back = [batch_send(relay, app="slow", rate=1) for _ in range(4)]
    others = [batch_send(relay, app="other") for _ in range(2)]

    assert held_back == [GO, Decision(1000, 1), Decision(2000, 1), Decision(3000, 1)]
    # The relay's line counts the one send the slow app made, not the three it holds back.
    assert others == [GO, Decision(200, 1)]


def test_realtime_sends_go_ahead_of_batch_sends_waiting_in_line(limits: UseRates):
    relay = limits(10)
    waiting = [batch_send(relay) for _ in range(5)]

    realtime = [realtime_send(relay) for _ in range(2)]

    assert waiting[2:] == [Decision(200, 1), Decision(300, 1), Decision(400, 1)]
    assert realtime == [GO, Decision(100, 0)]  # at once, within its own reserve


def test_unset_rates_never_ask_redis(settings: Settings, caplog: pytest.LogCaptureFixture):
    unreachable = Redis(port=free_port(), socket_connect_timeout=0.2)
    rates = SendingRates(unreachable, prefix=settings.redis_prefix, relay_per_second=None)

    assert batch_send(rates) == GO
    assert "sending rate" not in caplog.text


def test_an_unreachable_redis_lets_sends_through_with_a_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
):
    unreachable = Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    rates = SendingRates(unreachable, prefix=settings.redis_prefix, relay_per_second=10)

    with caplog.at_level(logging.WARNING, logger="app.engine.throttle"):
        decisions = [batch_send(rates, rate=1) for _ in range(3)]

    assert decisions == [GO, GO, GO]
    assert "sending rate not checked: Redis unreachable" in caplog.text


def test_a_negative_smtp_max_per_second_stops_a_process_as_it_starts(
    settings: Settings, redis_client: Redis
):
    with pytest.raises(ValueError, match="SMTP_MAX_PER_SECOND"):
        SendingRates.from_settings(replace(settings, smtp_max_per_second=-5), redis_client)


@pytest.mark.usefixtures("template")
def test_a_relay_with_a_quota_receives_a_throttled_batch_without_a_refusal(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, use_rates: UseRates, worker
):
    smtp_sink.limit_rate(10)  # 451 to the eleventh message of any second
    use_rates(5)

    sent = batch(client, tenant, people(20))
    done = finished(client, tenant, sent["notificationId"])

    assert smtp_sink.refusals == 0
    assert sorted(smtp_sink.recipients()) == sorted(f"u{i}@example.com" for i in range(20))
    assert done["progress"]["email"]["sent"] == 20
    emails = deliveries(client, tenant, sent["notificationId"], "&channel=email")
    assert {(d["status"], d["attempts"]) for d in emails} == {("sent", 1)}


def test_a_throttled_delivery_stays_queued_without_counting_an_attempt(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    runtime: Runtime,
    actors: Actors,
    one_a_second: PinnedClock,
):
    sent = batch(client, tenant, people(2))
    first, second = fan_out_now(runtime, actors, sent["notificationId"]).values()

    actors.delivery.deliver_email(first)
    actors.delivery.deliver_email(second)
    waiting = {d["id"]: d for d in deliveries(client, tenant, sent["notificationId"])}[second]
    [deferred] = _delayed(actors, actors.delivery.deliver_email_turn.queue_name)
    one_a_second.advance(ms=1_000)
    actors.delivery.deliver_email_turn(*deferred.args, **deferred.kwargs)  # as its message would

    assert (waiting["status"], waiting["attempts"], waiting["reason"]) == ("queued", 0, None)
    assert waiting["nextAttemptAt"] is None  # a second's wait is no retry, and nothing to note
    assert (deferred.actor_name, deferred.args, deferred.kwargs["turns"]) == (
        "deliver_email_turn",
        (second,),
        1,
    )
    assert smtp_sink.recipients() == ["u0@example.com", "u1@example.com"]
    sent_once = deliveries(client, tenant, sent["notificationId"], "&channel=email")
    assert {(d["status"], d["attempts"]) for d in sent_once} == {("sent", 1)}


@pytest.mark.usefixtures("one_a_second")
def test_a_long_wait_for_a_turn_is_stored_and_survives_redis_coming_back_empty(
    client: FlaskClient,
    tenant: Tenant,
    smtp_sink: SmtpSink,
    runtime: Runtime,
    actors: Actors,
    use_rates: UseRates,
    request: pytest.FixtureRequest,
):
    original = runtime.settings
    runtime.settings = replace(original, reconcile_stale_after_s=4)  # waits of 1 s are noted
    try:
        sent = batch(client, tenant, people(3))
        ids = list(fan_out_now(runtime, actors, sent["notificationId"]).values())
        for delivery_id in ids:
            actors.delivery.deliver_email(delivery_id)
        shown = deliveries(client, tenant, sent["notificationId"], "&status=queued")
        while_waiting = reconcile_once(runtime, actors, stale_after=timedelta(0))

        actors.broker.flush_all()  # Redis restarted empty: the deferred messages are gone
        _turns_long_past(runtime, ids)
        after_loss = reconcile_once(runtime, actors, stale_after=timedelta(minutes=2))
    finally:
        runtime.settings = original
    use_rates(None)
    request.getfixturevalue("worker")
    done = finished(client, tenant, sent["notificationId"])

    assert [d["attempts"] for d in shown] == [0, 0]
    assert all(d["nextAttemptAt"] for d in shown)  # when their turns come
    assert (while_waiting.deliveries, after_loss.deliveries) == (0, 2)
    assert done["progress"]["email"]["sent"] == 3
    assert sorted(smtp_sink.recipients()) == sorted(f"u{i}@example.com" for i in range(3))


@pytest.mark.usefixtures("template")
def test_a_realtime_email_goes_ahead_of_a_throttled_batch(
    client: FlaskClient, tenant: Tenant, smtp_sink: SmtpSink, use_rates: UseRates, worker
):
    use_rates(2)
    sent = batch(client, tenant, people(10))
    wait_until(lambda: smtp_sink.count() >= 2)

    answer = realtime(client, tenant, [{"external_id": "now", "email": "now@example.com"}])
    finished(client, tenant, answer["notificationId"])
    finished(client, tenant, sent["notificationId"])

    [at] = positions(smtp_sink, ["now@example.com"])
    batch_after = positions(smtp_sink, [f"u{i}@example.com" for i in range(10)])
    assert sum(p > at for p in batch_after) >= 3  # it did not wait behind the batch's line


def test_an_apps_share_holds_back_only_that_app(
    client: FlaskClient,
    tenant: Tenant,
    other_tenant: Tenant,
    smtp_sink: SmtpSink,
    worker,
):
    approved_template(client, tenant)
    approved_template(client, other_tenant)
    patched = client.patch(
        "/api/apps/current", json={"emailPerSecond": 2}, headers=tenant.headers()
    )
    assert patched.get_json()["emailPerSecond"] == 2

    slow = batch(client, tenant, people(6, "slow"))
    fast = batch(client, other_tenant, people(6, "fast"))
    finished(client, other_tenant, fast["notificationId"])
    finished(client, tenant, slow["notificationId"])

    slow_at = positions(smtp_sink, [f"slow{i}@example.com" for i in range(6)])
    fast_at = positions(smtp_sink, [f"fast{i}@example.com" for i in range(6)])
    assert (len(slow_at), len(fast_at)) == (6, 6)
    assert max(fast_at) < max(slow_at)


def _delayed(actors: Actors, queue: str) -> list[Message]:
    """The delayed messages Redis holds for a queue, oldest first."""
    raw = actors.broker.client.hvals(f"{actors.broker.namespace}:{queue}.DQ.msgs")
    return sorted((Message.decode(r) for r in raw), key=lambda m: m.options["eta"])


def _turns_long_past(runtime: Runtime, delivery_ids: list[str]) -> None:
    """An hour on: every stored turn and every update that long ago."""
    with runtime.database.transaction() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), Delivery.status == "queued")
            .values(
                updated_at=utcnow() - timedelta(hours=1),
                next_attempt_at=utcnow() - timedelta(hours=1),
            )
        )
